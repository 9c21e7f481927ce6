package io.starshard.internal;

import io.starshard.SnapshotMode;
import io.starshard.internal.ThreadContext.Frame;
import io.starshard.offheap.RecordDescriptor;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentImage;
import org.agrona.DirectBuffer;

import java.time.Instant;
import java.util.AbstractMap;
import java.util.Map;
import java.util.Spliterator;
import java.util.function.Consumer;

/**
 * Reading one snapshot: lookups by key and scans, decoding keys and values with the map's codecs. The public face
 * is {@code MapSnapshot}; this class holds the rules, next to the codec and the locks they need.
 *
 * <p>Rules. A copy is read only while a reference to it is held ({@link SegmentImage#tryAcquire}), so a snapshot
 * closed by another thread mid-read never frees memory under a reader. A {@code COW} piece not copied yet is read
 * in the live segment under its shard's read lock, where it still holds the snapshot's state (see
 * {@link CowCopy}); a scan copies it first, since decoding runs user code that must not run under a lock.
 *
 * @param <K> key type
 * @param <V> value type
 */
public final class SnapshotView<K, V> {
    private final EntryCodec<K, V> codec;
    private final ShardTable shards;
    private final SnapshotData data;

    SnapshotView(EntryCodec<K, V> codec, ShardTable shards, SnapshotData data) {
        this.codec = codec;
        this.shards = shards;
        this.data = data;
    }

    /** @return the snapshot's version, unique and increasing among the map's snapshots */
    public long version() {
        return data.version;
    }

    /** @return the mode it was taken in */
    public SnapshotMode mode() {
        return data.mode;
    }

    /** @return when it was taken (wall clock) */
    public Instant takenAt() {
        return data.takenAt;
    }

    /** @return when it was taken ({@link System#nanoTime()}) */
    public long takenAtNanos() {
        return data.takenAtNanos;
    }

    /** @return entries in the snapshot */
    public long size() {
        data.checkOpen();
        return data.size;
    }

    /** Lets go of this handle; the last handle frees the snapshot's copies. Call once. */
    public void release() {
        data.releaseHandle();
    }

    /**
     * The value of {@code key} in the snapshot, or null.
     *
     * @param key any object; of another type than the map's keys it is absent
     * @return the value or null
     * @throws IllegalStateException if the snapshot is closed
     */
    public V get(Object key) {
        data.checkOpen();
        final K k = codec.keyOrNull(key);
        if (k == null) {
            return null;
        }
        final ThreadContext ctx = ThreadContext.current();
        final Frame f = ctx.push();
        try {
            if (!codec.encodeLookupKey(k, f)) {
                return null;
            }
            final int length = readValue(ctx, f, data.pieceOf(f.hash));
            return length < 0 ? null : codec.decodeRead(f, length);
        } finally {
            ctx.pop();
        }
    }

    /** Copies the value of the key in {@code f} out of piece {@code i} into {@code f.read}; its length or -1. */
    private int readValue(ThreadContext ctx, Frame f, int i) {
        final CowCopy cow = data.cows[i];
        if (cow == null) {
            final SegmentImage image = data.acquireCopy(i);
            try {
                return valueFrom(image, f);
            } finally {
                image.release();
            }
        }
        if (ctx.holdsLockOf(shards)) {
            throw new IllegalStateException("a compute/merge/retain function must not read a COW snapshot of the"
                + " map it runs on (reading a shard not copied yet takes its lock)");
        }
        final Shard shard = cow.shard;
        final long stamp = shard.readLock();
        try {
            data.checkOpen();
            final SegmentImage image = cow.acquireCopyIfMade();
            if (image != null) {
                try {
                    return valueFrom(image, f);
                } finally {
                    image.release();
                }
            }
            final Segment live = shard.segment;
            final int slot = live.find(f.hash, f.key, 0, f.keyLength);
            return slot < 0 ? -1 : live.readValue(slot, f.read, 0);
        } finally {
            shard.unlockRead(stamp);
        }
    }

    private static int valueFrom(SegmentImage image, Frame f) {
        final int at = image.find(f.hash, f.key, 0, f.keyLength);
        if (at < 0) {
            return -1;
        }
        final DirectBuffer buffer = image.buffer();
        final int keyLength = RecordDescriptor.keyLength(buffer, at);
        final int valueLength = RecordDescriptor.valueLength(buffer, at);
        f.read.putBytes(0, buffer, RecordDescriptor.valueOffset(at, keyLength), valueLength);
        return valueLength;
    }

    /**
     * A spliterator over the snapshot's entries: immutable, split by piece and, within one large piece, by
     * ranges of its index.
     *
     * @return a spliterator of {@code Map.Entry}
     */
    public Spliterator<Map.Entry<K, V>> spliterator() {
        data.checkOpen();
        return new Entries(0, data.pieces(), 0, -1);
    }

    /**
     * The entries of pieces {@code [piece, pieceEnd)}; in the first, from index slot {@code slot}; if it is the only
     * one, up to slot {@code slotEnd} ({@code -1}: to the end).
     */
    private final class Entries implements Spliterator<Map.Entry<K, V>> {
        /** Below this many entries a part is not split: the fork costs more than the work. */
        private static final int MIN_SPLIT_ENTRIES = 4096;
        private int piece;
        private final int pieceEnd;
        private int slot;
        private int slotEnd;

        Entries(int piece, int pieceEnd, int slot, int slotEnd) {
            this.piece = piece;
            this.pieceEnd = pieceEnd;
            this.slot = slot;
            this.slotEnd = slotEnd;
        }

        private boolean wholePieces() {
            return slot == 0 && slotEnd < 0;
        }

        @Override
        public boolean tryAdvance(Consumer<? super Map.Entry<K, V>> action) {
            while (piece < pieceEnd) {
                final SegmentImage image = data.acquireCopy(piece);
                Map.Entry<K, V> entry = null;
                try {
                    final int end = pieceEnd - piece == 1 && slotEnd >= 0 ? slotEnd : image.indexSlots();
                    while (slot < end && entry == null) {
                        final int at = image.recordAt(slot++);
                        if (at >= 0) {
                            entry = decode(image.buffer(), at);
                        }
                    }
                } finally {
                    image.release();
                }
                if (entry != null) {
                    action.accept(entry);
                    return true;
                }
                piece++;
                slot = 0;
            }
            return false;
        }

        @Override
        public void forEachRemaining(Consumer<? super Map.Entry<K, V>> action) {
            for (; piece < pieceEnd; piece++, slot = 0) {
                final SegmentImage image = data.acquireCopy(piece);
                try {
                    final int end = pieceEnd - piece == 1 && slotEnd >= 0 ? slotEnd : image.indexSlots();
                    for (; slot < end; slot++) {
                        final int at = image.recordAt(slot);
                        if (at >= 0) {
                            action.accept(decode(image.buffer(), at));
                        }
                    }
                } finally {
                    image.release();
                }
            }
        }

        private Map.Entry<K, V> decode(DirectBuffer buffer, int at) {
            final int keyLength = RecordDescriptor.keyLength(buffer, at);
            final int valueLength = RecordDescriptor.valueLength(buffer, at);
            final K key = codec.decodeKey(buffer, RecordDescriptor.keyOffset(at), keyLength);
            final V value = codec.decodeValue(buffer, RecordDescriptor.valueOffset(at, keyLength), valueLength);
            return new AbstractMap.SimpleImmutableEntry<>(key, value);
        }

        @Override
        public Spliterator<Map.Entry<K, V>> trySplit() {
            if (pieceEnd - piece >= 2) {
                final int middle = (piece + pieceEnd) >>> 1;
                final Entries prefix = new Entries(piece, middle, slot, -1);
                piece = middle;
                slot = 0;
                return prefix;
            }
            if (pieceEnd - piece == 1 && estimateSize() >= 2 * MIN_SPLIT_ENTRIES) {
                final SegmentImage image = data.acquireCopy(piece);
                final int end;
                try {
                    end = slotEnd >= 0 ? slotEnd : image.indexSlots();
                } finally {
                    image.release();
                }
                final int middle = (slot + end) >>> 1;
                if (middle <= slot) {
                    return null;
                }
                final Entries prefix = new Entries(piece, piece + 1, slot, middle);
                slot = middle;
                slotEnd = end;
                return prefix;
            }
            return null;
        }

        @Override
        public long estimateSize() {
            long total = 0;
            for (int i = piece; i < pieceEnd; i++) {
                total += data.sizes[i];
            }
            if (wholePieces() || pieceEnd - piece != 1) {
                return total;
            }
            final SegmentImage image = data.acquireCopy(piece);
            try {
                final int slots = image.indexSlots();
                final int end = slotEnd >= 0 ? slotEnd : slots;
                return slots == 0 ? 0 : (long) Math.ceil((double) total * (end - slot) / slots);
            } finally {
                image.release();
            }
        }

        @Override
        public int characteristics() {
            final int always = Spliterator.IMMUTABLE | Spliterator.NONNULL | Spliterator.DISTINCT;
            return wholePieces() ? always | Spliterator.SIZED : always;
        }
    }
}
