package io.starshard.replication;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;

import java.util.Arrays;

/**
 * What makes a resent command take effect exactly once: for every client, the outcome of its most recent
 * commands, by correlation id. Part of the replicated state (every member builds the same table from the same log,
 * and snapshots carry it), so a command resent to a new leader after a failover is recognised there.
 *
 * <p>A client keeps at most {@code windowSize} commands unanswered, so a resent command is always one of the last
 * {@code windowSize} the client issued: one slot per correlation id modulo the window keeps it. A client silent for
 * longer than the retention (cluster time, so every member forgets it at the same log position) is forgotten.
 */
final class DedupTable {
    /** Nothing recorded in a slot (correlation ids start at 1). */
    private static final long EMPTY = 0;

    /** One client's recent outcomes. */
    static final class Window {
        final long clientId;
        long lastSeen;
        long highest;
        final long[] ids;
        final byte[][] responses;
        final int[] lengths;

        Window(long clientId, int size) {
            this.clientId = clientId;
            this.ids = new long[size];
            this.responses = new byte[size][];
            this.lengths = new int[size];
        }
    }

    private final Long2ObjectHashMap<Window> clients = new Long2ObjectHashMap<>();
    private final int windowSize;
    private final long retention;
    private long lastSweep;

    /**
     * @param windowSize the most commands a client keeps unanswered
     * @param retention  how long (cluster time units) a silent client is remembered
     */
    DedupTable(int windowSize, long retention) {
        this.windowSize = windowSize;
        this.retention = retention;
    }

    int windowSize() {
        return windowSize;
    }

    int clientCount() {
        return clients.size();
    }

    /** The window of {@code clientId}, created if new; forgets clients silent for the retention first. */
    Window window(long clientId, long now) {
        if (now - lastSweep >= retention / 4) {
            lastSweep = now;
            clients.values().removeIf(w -> now - w.lastSeen > retention);
        }
        Window window = clients.get(clientId);
        if (window == null) {
            window = new Window(clientId, windowSize);
            clients.put(clientId, window);
        }
        window.lastSeen = now;
        return window;
    }

    /** Whether {@code correlationId} was applied and its response is kept. */
    boolean isApplied(Window window, long correlationId) {
        return window.ids[slot(correlationId)] == correlationId;
    }

    /**
     * Whether {@code correlationId}'s outcome cannot be known: older than the client's window, or the first command
     * seen from a client whose numbering is already past one window (it was forgotten after the retention, so this
     * may be a resend of a command applied before). Such a command is refused, not applied.
     */
    boolean isExpired(Window window, long correlationId) {
        if (correlationId <= 0) {
            return true;
        }
        return window.highest == 0 ? correlationId > windowSize : correlationId <= window.highest - windowSize;
    }

    /** Copies the response kept for an applied {@code correlationId} into {@code into}; returns its length. */
    int storedResponse(Window window, long correlationId, MutableDirectBuffer into) {
        final int slot = slot(correlationId);
        into.putBytes(0, window.responses[slot], 0, window.lengths[slot]);
        return window.lengths[slot];
    }

    /** Records that {@code correlationId} was applied with this response (reusing the slot's array). */
    void record(Window window, long correlationId, DirectBuffer response, int length) {
        final int slot = slot(correlationId);
        byte[] bytes = window.responses[slot];
        if (bytes == null || bytes.length < length) {
            bytes = new byte[Math.max(length, 64)];
            window.responses[slot] = bytes;
        }
        response.getBytes(0, bytes, 0, length);
        window.lengths[slot] = length;
        window.ids[slot] = correlationId;
        window.highest = Math.max(window.highest, correlationId);
    }

    private int slot(long correlationId) {
        return (int) Long.remainderUnsigned(correlationId, windowSize);
    }

    /**
     * The table as bytes for a snapshot: window size, retention, last sweep, client count, then per client (in
     * id order, so equal tables give equal bytes) its id, last seen, highest id, used slot count and the used
     * slots (id, length, response bytes).
     */
    byte[] encode() {
        final long[] ids = clients.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
        long length = 4 + 8 + 8 + 4;
        for (long id : ids) {
            final Window w = clients.get(id);
            length += 8 + 8 + 8 + 4;
            for (int s = 0; s < windowSize; s++) {
                if (w.ids[s] != EMPTY) {
                    length += 8 + 4 + w.lengths[s];
                }
            }
        }
        if (length > ServiceSnapshot.MAX_DEDUP_LENGTH) {
            throw new IllegalStateException("the deduplication table needs " + length + " bytes, more than a snapshot"
                + " holds (" + ServiceSnapshot.MAX_DEDUP_LENGTH + "): lower maxInFlight or dedupRetention, or keep"
                + " values smaller");
        }
        final org.agrona.concurrent.UnsafeBuffer out = new org.agrona.concurrent.UnsafeBuffer(new byte[(int) length]);
        int p = 0;
        out.putInt(p, windowSize);
        p += 4;
        out.putLong(p, retention);
        p += 8;
        out.putLong(p, lastSweep);
        p += 8;
        out.putInt(p, ids.length);
        p += 4;
        for (long id : ids) {
            final Window w = clients.get(id);
            out.putLong(p, id);
            out.putLong(p + 8, w.lastSeen);
            out.putLong(p + 16, w.highest);
            int used = 0;
            for (int s = 0; s < windowSize; s++) {
                used += w.ids[s] != EMPTY ? 1 : 0;
            }
            out.putInt(p + 24, used);
            p += 28;
            for (int s = 0; s < windowSize; s++) {
                if (w.ids[s] != EMPTY) {
                    out.putLong(p, w.ids[s]);
                    out.putInt(p + 8, w.lengths[s]);
                    out.putBytes(p + 12, w.responses[s], 0, w.lengths[s]);
                    p += 12 + w.lengths[s];
                }
            }
        }
        return out.byteArray();
    }

    /**
     * Rebuilds a table from {@link #encode()}'s bytes, checking every count and length against the bytes left.
     *
     * @throws IllegalArgumentException if the bytes do not parse, or were written with another window size
     */
    static DedupTable decode(DirectBuffer in, int length, int expectedWindowSize) {
        final Cursor c = new Cursor(in, length);
        final int windowSize = c.intAtLeast(1, "window size");
        if (windowSize != expectedWindowSize) {
            throw new IllegalArgumentException("the snapshot's deduplication window is " + windowSize
                + " commands and this member's maxInFlight is " + expectedWindowSize + "; every member and client"
                + " of a cluster must use the same maxInFlight");
        }
        final long retention = c.longValue();
        final DedupTable table = new DedupTable(windowSize, retention);
        table.lastSweep = c.longValue();
        final int count = c.intAtLeast(0, "client count");
        for (int i = 0; i < count; i++) {
            final Window w = new Window(c.longValue(), windowSize);
            w.lastSeen = c.longValue();
            w.highest = c.longValue();
            final int used = c.intAtLeast(0, "used slots");
            if (used > windowSize) {
                throw new IllegalArgumentException("client " + w.clientId + " has " + used + " slots of " + windowSize);
            }
            for (int s = 0; s < used; s++) {
                final long id = c.longValue();
                final int responseLength = c.intAtLeast(0, "response length");
                c.require(responseLength);
                final byte[] bytes = new byte[responseLength];
                in.getBytes(c.position, bytes, 0, responseLength);
                c.position += responseLength;
                final int slot = table.slot(id);
                w.ids[slot] = id;
                w.responses[slot] = bytes;
                w.lengths[slot] = responseLength;
            }
            table.clients.put(w.clientId, w);
        }
        if (c.position != length) {
            throw new IllegalArgumentException((length - c.position) + " bytes after the last client");
        }
        return table;
    }

    /** Equal contents (for tests comparing members). */
    boolean sameAs(DedupTable other) {
        return Arrays.equals(encode(), other.encode());
    }

    /** Bounds-checked reading of {@link #decode}'s input. */
    private static final class Cursor {
        final DirectBuffer in;
        final int length;
        int position;

        Cursor(DirectBuffer in, int length) {
            this.in = in;
            this.length = length;
        }

        void require(int bytes) {
            if (length - position < bytes) {
                throw new IllegalArgumentException("truncated: needs " + bytes + " bytes at " + position + " of "
                    + length);
            }
        }

        long longValue() {
            require(8);
            final long v = in.getLong(position);
            position += 8;
            return v;
        }

        int intAtLeast(int min, String what) {
            require(4);
            final int v = in.getInt(position);
            position += 4;
            if (v < min) {
                throw new IllegalArgumentException(what + " " + v + " is below " + min);
            }
            return v;
        }
    }
}
