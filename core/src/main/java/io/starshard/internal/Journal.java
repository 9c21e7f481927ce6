package io.starshard.internal;

import io.starshard.offheap.KeyHasher;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A persisted map's write-ahead journal: one generation of {@link JournalLane}s, one file per lane. A key's records
 * go to the lane its routing bits select, whatever the shard count, so a rebalance never moves a key between lanes
 * and each lane holds every write of its keys in the order the shard locks gave them.
 *
 * <p>A checkpoint starts the next generation ({@link #startGeneration}): every lane of the old one is locked and
 * retired, then the new lanes take over. A writer that finds its lane retired takes the new one. Every record of
 * the old generation was therefore appended, and its change made to a segment, before the checkpoint began to
 * read the map; the checkpoint plus the new generation's records is the whole map.
 */
final class Journal {
    private final Path directory;
    private final long hashSeed;
    private final int maxEntryBytes;
    private final int laneBits;
    /** The lanes of the current generation; null once closed. */
    private volatile JournalLane[] lanes;
    private long generation;

    /**
     * @param laneBits {@code log2} of the number of lanes
     */
    Journal(Path directory, long hashSeed, int maxEntryBytes, int laneBits) {
        this.directory = directory;
        this.hashSeed = hashSeed;
        this.maxEntryBytes = maxEntryBytes;
        this.laneBits = laneBits;
    }

    /** The lanes a machine with this many processors gets: enough that writers of different shards rarely meet. */
    static int laneBitsFor(int processors) {
        final int lanes = Math.min(64, Math.max(4, Integer.highestOneBit(Math.max(1, processors) * 2 - 1) << 1));
        return Integer.numberOfTrailingZeros(lanes);
    }

    /**
     * Creates the lane files of {@code next} and makes them current; the previous generation's lanes are retired
     * (after every append in progress in them) and closed. Its files stay: they are deleted once a checkpoint covers
     * them.
     *
     * @throws IOException if a file cannot be created (then the current generation stays current)
     */
    synchronized void startGeneration(long next) throws IOException {
        final int count = 1 << laneBits;
        final JournalLane[] created = new JournalLane[count];
        try {
            for (int i = 0; i < count; i++) {
                created[i] = new JournalLane(directory.resolve(JournalFormat.laneFileName(next, i)), i, count, next,
                    hashSeed, maxEntryBytes);
            }
        } catch (IOException | RuntimeException e) {
            for (JournalLane lane : created) {
                if (lane != null) {
                    lane.retire();
                    lane.release();
                }
            }
            throw e;
        }
        final JournalLane[] previous = lanes;
        if (previous != null) {
            for (JournalLane lane : previous) {
                lane.retire();
            }
        }
        lanes = created;
        generation = next;
        if (previous != null) {
            for (JournalLane lane : previous) {
                lane.release();
            }
        }
    }

    /** The current generation. */
    synchronized long generation() {
        return generation;
    }

    /**
     * The lane of a key with {@code hash}, locked for one record of at most {@code recordLength} bytes.
     *
     * @param nonBlocking throw {@link WouldBlock} rather than wait for the lane's lock
     * @throws IllegalStateException if the journal is closed
     * @throws java.io.UncheckedIOException if the lane's file cannot grow (nothing changed)
     */
    JournalLane lock(long hash, int recordLength, boolean nonBlocking) {
        return lockLane((int) (KeyHasher.routingBits(hash) >>> (32 - laneBits)), recordLength, nonBlocking);
    }

    private JournalLane lockLane(int index, int recordLength, boolean nonBlocking) {
        while (true) {
            final JournalLane[] current = lanes;
            if (current == null) {
                throw new IllegalStateException("map is closed");
            }
            final JournalLane lane = current[index];
            if (lane.tryLock(recordLength, nonBlocking)) {
                return lane;
            }
        }
    }

    /**
     * Appends "every key routed into {@code [from, to)} is absent" to each lane whose keys the range touches. Call
     * under the locks of the shards that hold the range.
     */
    void appendRange(long from, long to) {
        final int shift = 32 - laneBits;
        final int first = (int) (from >>> shift);
        final int last = (int) ((to - 1) >>> shift);
        final byte[] bounds = new byte[JournalFormat.RANGE_BYTES];
        final int length = JournalFormat.recordLength(0, JournalFormat.RANGE_BYTES);
        for (int i = first; i <= last; i++) {
            final JournalLane lane = lockLane(i, length, false);
            try {
                lane.appendRange(from, to, bounds);
            } finally {
                lane.unlock();
            }
        }
    }

    /** Record bytes appended in the current generation (a little stale at most). */
    long appendedBytes() {
        final JournalLane[] current = lanes;
        long sum = 0;
        if (current != null) {
            for (JournalLane lane : current) {
                sum += lane.appendedBytes();
            }
        }
        return sum;
    }

    /**
     * Forces every record appended so far to the storage device.
     *
     * @throws IOException if the device reports a failure
     */
    void force() throws IOException {
        final JournalLane[] current = lanes;
        if (current != null) {
            for (JournalLane lane : current) {
                lane.force();
            }
        }
    }

    /** Retires and closes the lanes; later appends throw "closed". Files stay for the next open. Idempotent. */
    synchronized void close() {
        final JournalLane[] current = lanes;
        if (current == null) {
            return;
        }
        for (JournalLane lane : current) {
            lane.retire();
        }
        lanes = null;
        for (JournalLane lane : current) {
            lane.release();
        }
    }
}
