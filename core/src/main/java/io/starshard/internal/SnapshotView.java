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
    /** The map's shard count when the snapshot was taken, kept by serialisation. */
    private final int shardCount;

    SnapshotView(EntryCodec<K, V> codec, ShardTable shards, SnapshotData data, int shardCount) {
        this.codec = codec;
        this.shards = shards;
        this.data = data;
        this.shardCount = shardCount;
    }

    /**
     * Returns the key class.
     *
     * @return the key class
     */
    public Class<K> keyType() {
        return codec.keyType();
    }

    /**
     * Returns the value class.
     *
     * @return the value class
     */
    public Class<V> valueType() {
        return codec.valueType();
    }

    /**
     * Returns the map's shard count when the snapshot was taken.
     *
     * @return the map's shard count when the snapshot was taken
     */
    public int shardCount() {
        return shardCount;
    }

    /**
     * Returns the snapshot's version, unique and increasing among the map's snapshots.
     *
     * @return the snapshot's version, unique and increasing among the map's snapshots
     */
    public long version() {
        return data.version;
    }

    /**
     * Returns the mode it was taken in.
     *
     * @return the mode it was taken in
     */
    public SnapshotMode mode() {
        return data.mode;
    }

    /**
     * Returns when it was taken (wall clock).
     *
     * @return when it was taken (wall clock)
     */
    public Instant takenAt() {
        return data.takenAt;
    }

    /**
     * Returns when it was taken ({@link System#nanoTime()}).
     *
     * @return when it was taken ({@link System#nanoTime()})
     */
    public long takenAtNanos() {
        return data.takenAtNanos;
    }

    /**
     * Returns entries in the snapshot.
     *
     * @return entries in the snapshot
     */
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
     * The entries of pieces {@code [piece, pieceEnd)}. Whole pieces are read in record order (sequential memory);
     * a part of one piece made by a split is the records of index slots {@code [slot, slotEnd)}.
     */
    private final class Entries implements Spliterator<Map.Entry<K, V>> {
        /** Below this many entries a part is not split: the fork costs more than the work. */
        private static final int MIN_SPLIT_ENTRIES = 4096;
        /** Entries {@link #tryAdvance} decodes per reference taken. */
        private static final int BATCH = 64;
        private int piece;
        private final int pieceEnd;
        /** In a whole piece, the offset of the next record; in a part of one piece, the next index slot. */
        private int position;
        /** The end of this part's index slots, or -1 when this spliterator covers whole pieces. */
        private int slotEnd;

        Entries(int piece, int pieceEnd, int position, int slotEnd) {
            this.piece = piece;
            this.pieceEnd = pieceEnd;
            this.position = position;
            this.slotEnd = slotEnd;
        }

        private boolean wholePieces() {
            return slotEnd < 0;
        }

        /** The next record of {@code image} at or after {@link #position}, advancing past it; -1 at the end. */
        private int next(SegmentImage image) {
            if (wholePieces()) {
                if (position >= image.recordsLength()) {
                    return -1;
                }
                final int at = position;
                final DirectBuffer buffer = image.buffer();
                position += RecordDescriptor.recordLength(RecordDescriptor.keyLength(buffer, at),
                    RecordDescriptor.valueLength(buffer, at));
                return at;
            }
            while (position < slotEnd) {
                final int at = image.recordAt(position++);
                if (at >= 0) {
                    return at;
                }
            }
            return -1;
        }

        /**
         * Entries decoded ahead by {@link #tryAdvance}: it takes a copy's reference once per batch rather than per
         * entry, and holds none between calls (an iterator dropped half way must not pin a copy).
         */
        private Object[] batch;
        private int batchAt;
        private int batchEnd;

        @Override
        @SuppressWarnings("unchecked")
        public boolean tryAdvance(Consumer<? super Map.Entry<K, V>> action) {
            if (batchAt == batchEnd && !fillBatch()) {
                return false;
            }
            final Map.Entry<K, V> entry = (Map.Entry<K, V>) batch[batchAt];
            batch[batchAt++] = null;
            action.accept(entry);
            return true;
        }

        private boolean fillBatch() {
            if (batch == null) {
                batch = new Object[BATCH];
            }
            batchAt = 0;
            batchEnd = 0;
            while (piece < pieceEnd) {
                final SegmentImage image = data.acquireCopy(piece);
                try {
                    for (int at = batchEnd < BATCH ? next(image) : -1; at >= 0;
                         at = batchEnd < BATCH ? next(image) : -1) {
                        batch[batchEnd++] = decode(image.buffer(), at);
                    }
                } finally {
                    image.release();
                }
                if (batchEnd > 0) {
                    return true;
                }
                piece++;
                position = 0;
            }
            return false;
        }

        @Override
        @SuppressWarnings("unchecked")
        public void forEachRemaining(Consumer<? super Map.Entry<K, V>> action) {
            while (batchAt < batchEnd) {
                final Map.Entry<K, V> entry = (Map.Entry<K, V>) batch[batchAt];
                batch[batchAt++] = null;
                action.accept(entry);
            }
            for (; piece < pieceEnd; piece++, position = 0) {
                final SegmentImage image = data.acquireCopy(piece);
                try {
                    for (int at = next(image); at >= 0; at = next(image)) {
                        action.accept(decode(image.buffer(), at));
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
            if (batchAt < batchEnd) {
                return null;   // started: entries are buffered
            }
            if (pieceEnd - piece >= 2 && (!wholePieces() || position == 0)) {
                final int middle = (piece + pieceEnd) >>> 1;
                final Entries prefix = new Entries(piece, middle, 0, -1);
                piece = middle;
                return prefix;
            }
            if (pieceEnd - piece != 1 || estimateSize() < 2 * MIN_SPLIT_ENTRIES) {
                return null;
            }
            if (wholePieces()) {
                if (position != 0) {
                    return null;   // started in record order: no index range describes the rest
                }
                final SegmentImage image = data.acquireCopy(piece);
                try {
                    slotEnd = image.indexSlots();
                } finally {
                    image.release();
                }
            }
            final int middle = (position + slotEnd) >>> 1;
            if (middle <= position) {
                return null;
            }
            final Entries prefix = new Entries(piece, piece + 1, position, middle);
            position = middle;
            return prefix;
        }

        @Override
        public long estimateSize() {
            long total = 0;
            for (int i = piece; i < pieceEnd; i++) {
                total += data.sizes[i];
            }
            if (wholePieces()) {
                return total;
            }
            final SegmentImage image = data.acquireCopy(piece);
            try {
                final int slots = image.indexSlots();
                return slots == 0 ? 0 : (long) Math.ceil((double) total * (slotEnd - position) / slots);
            } finally {
                image.release();
            }
        }

        @Override
        public int characteristics() {
            final int always = Spliterator.IMMUTABLE | Spliterator.NONNULL | Spliterator.DISTINCT;
            return wholePieces() && position == 0 ? always | Spliterator.SIZED : always;
        }
    }
}
