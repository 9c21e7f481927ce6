package io.starshard.internal;

import io.starshard.SnapshotMode;
import io.starshard.SnapshotStats;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentImage;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A map's snapshots: taking them in the map's {@link SnapshotMode}, the {@code CACHED} copies, the retained
 * versions, and the counters of {@link SnapshotStats}.
 *
 * <p>How a snapshot is taken. The hash space is walked shard range by shard range, as the iterators walk it
 * ({@link ShardTable#withGroupLocked}, so a rebalance running meanwhile neither hides nor repeats a key); each
 * range is held under its shards' read locks while it is copied ({@code CLONE}), reused if its shard's content
 * has not changed since the cached copy ({@code CACHED}: the hook armed with the copy is still armed), or marked with a {@link CowCopy} ({@code COW}).
 * A range that a rebalance is still filling from previous shards is always copied: a copy-on-write mark belongs to
 * one segment, and such a range spans several. A range whose shard does not exist is empty: taking a snapshot
 * never creates a shard.
 *
 * <p>Memory. Copies are allocated from an accountant of their own, outside the map's budget: a full map must
 * still be able to take a snapshot, and a snapshot must never make a put fail. {@link SnapshotStats#imageBytes}
 * shows what they hold.
 *
 * @param <K> key type
 * @param <V> value type
 */
public final class Snapshots<K, V> {
    private final ShardTable shards;
    private final EntryCodec<K, V> codec;
    private final SnapshotMode mode;
    private final int retainVersions;
    private final OffHeapMemory memory = OffHeapMemory.unlimited();
    /** Serialises snapshot-taking: the {@code CACHED} copies and the retained versions are guarded by it. */
    private final Object lock = new Object();
    private final ArrayDeque<SnapshotData> retained = new ArrayDeque<>();
    private long lastVersion;
    private boolean closed;
    private final AtomicLong taken = new AtomicLong();
    private final AtomicLong shardCopies = new AtomicLong();
    private final AtomicLong reusedCopies = new AtomicLong();
    private final AtomicLong copiesOnWrite = new AtomicLong();

    Snapshots(ShardTable shards, EntryCodec<K, V> codec, SnapshotMode mode, int retainVersions) {
        this.shards = shards;
        this.codec = codec;
        this.mode = mode;
        this.retainVersions = retainVersions;
    }

    /**
     * Returns the mode snapshots are taken in.
     *
     * @return the mode snapshots are taken in
     */
    public SnapshotMode mode() {
        return mode;
    }

    /**
     * Takes a snapshot in the map's mode.
     *
     * @param versioned whether the map retains it for {@link #snapshotAtVersion}
     * @return a view holding one handle; release it
     * @throws IllegalStateException if the map is closed
     */
    public SnapshotView<K, V> snapshot(boolean versioned) {
        shards.openContext();
        return new SnapshotView<>(codec, shards, take(versioned), shards.shardCount());
    }

    /**
     * A new handle on the retained snapshot of {@code version}.
     *
     * @param version a version
     * @return the view, or empty if that version is not retained
     * @throws IllegalStateException if the map is closed
     */
    public Optional<SnapshotView<K, V>> snapshotAtVersion(long version) {
        shards.openContext();
        return atVersion(version).map(data -> new SnapshotView<>(codec, shards, data, shards.shardCount()));
    }

    /**
     * Takes a snapshot; if {@code versioned}, the map retains it among the last {@code retainVersions}.
     *
     * @throws IllegalStateException if the map is closed
     */
    SnapshotData take(boolean versioned) {
        synchronized (lock) {
            if (closed) {
                throw shards.closedException();
            }
            shards.checkOpen();
            final SnapshotData data = copyEveryRange(++lastVersion);
            taken.incrementAndGet();
            if (versioned && retainVersions > 0) {
                data.tryAcquireHandle();   // the retained one
                retained.addLast(data);
                while (retained.size() > retainVersions) {
                    retained.removeFirst().releaseHandle();
                }
            }
            return data;
        }
    }

    /** A new handle on the retained snapshot of {@code version}, if it is still retained. */
    Optional<SnapshotData> atVersion(long version) {
        synchronized (lock) {
            if (closed) {
                throw shards.closedException();
            }
            for (SnapshotData data : retained) {
                if (data.version == version && data.tryAcquireHandle()) {
                    return Optional.of(data);
                }
            }
            return Optional.empty();
        }
    }

    private SnapshotData copyEveryRange(long version) {
        final Instant takenAt = Instant.now();
        final long takenAtNanos = System.nanoTime();
        final List<Long> starts = new ArrayList<>();
        final List<SegmentImage> images = new ArrayList<>();
        final List<CowCopy> cows = new ArrayList<>();
        final List<Integer> sizes = new ArrayList<>();
        final Object[] piece = new Object[1];
        final int[] pieceSize = new int[1];
        try {
            long boundary = 0;
            while (boundary < ShardTable.ROUTING_END) {
                final ShardTable.Layout l = shards.layout();
                final int index = (int) ((boundary * l.count) >>> 32);
                final long end = KeyHasher.shardStart(index + 1, l.count);
                final long from = boundary;
                final long result = shards.withGroupLocked(l, index, from, end, false, (group, previousCount, whole) -> {
                    piece[0] = copyRange(group, previousCount, whole, from, end);
                    pieceSize[0] = piece[0] instanceof SegmentImage ? ((SegmentImage) piece[0]).size()
                        : ((CowCopy) piece[0]).shard.segment.size();
                    return 0;
                });
                if (result != ShardTable.STALE) {
                    starts.add(from);
                    images.add(piece[0] instanceof SegmentImage ? (SegmentImage) piece[0] : null);
                    cows.add(piece[0] instanceof CowCopy ? (CowCopy) piece[0] : null);
                    sizes.add(pieceSize[0]);
                    boundary = end;
                }
            }
        } catch (RuntimeException | Error e) {
            for (int i = 0; i < images.size(); i++) {
                if (images.get(i) != null) {
                    images.get(i).release();
                } else {
                    cows.get(i).leave();
                }
            }
            throw e;
        }
        final int n = starts.size();
        final long[] startArray = new long[n];
        final int[] sizeArray = new int[n];
        for (int i = 0; i < n; i++) {
            startArray[i] = starts.get(i);
            sizeArray[i] = sizes.get(i);
        }
        return new SnapshotData(version, mode, takenAt, takenAtNanos, startArray,
            images.toArray(new SegmentImage[0]), cows.toArray(new CowCopy[0]), sizeArray);
    }

    /** Under the group's read locks: the piece for one range, an image or a pending copy. */
    private Object copyRange(Shard[] group, int previousCount, boolean whole, long from, long to) {
        final Shard active = group[previousCount];
        if (previousCount > 0 || !whole) {
            final List<Segment> segments = new ArrayList<>();
            for (Shard shard : group) {
                if (shard != null) {
                    segments.add(shard.segment);
                }
            }
            return copy(segments.toArray(new Segment[0]), from, to);
        }
        if (active == null) {
            return SegmentImage.EMPTY;
        }
        final Segment segment = active.segment;
        switch (mode) {
            case COW:
                if (segment.size() == 0) {
                    return SegmentImage.EMPTY;
                }
                final Segment.ChangeHook armed = segment.pendingChangeHook();
                if (armed instanceof CowCopy && ((CowCopy) armed).join()) {
                    return armed;
                }
                final CowCopy cow = new CowCopy(this, active);
                segment.beforeNextChange(cow);
                return cow;
            case CACHED:
                // The copy is current while the hook armed with it has not run: no change since.
                final SegmentImage cached = active.cachedImage;
                if (cached != null && segment.pendingChangeHook() == active.cacheMark && cached.tryAcquire()) {
                    reusedCopies.incrementAndGet();
                    return cached;
                }
                final SegmentImage fresh = copy(segment);
                fresh.tryAcquire();   // the cache's reference
                active.cachedImage = fresh;
                active.cacheMark = UNCHANGED_SINCE_COPY.get();
                segment.beforeNextChange(active.cacheMark);
                if (cached != null) {
                    cached.release();
                }
                return fresh;
            default:
                return copy(segment);
        }
    }

    /**
     * A hook that only marks: armed when a {@code CACHED} copy is made, it runs (and disarms) at the first change,
     * so "still armed" means "unchanged since the copy". A fresh object per copy, so a mark from an older copy
     * never matches.
     */
    private static final java.util.function.Supplier<Segment.ChangeHook> UNCHANGED_SINCE_COPY = () -> segment -> { };

    /** A copy of every entry of {@code segment}; the caller holds its lock. */
    SegmentImage copy(Segment segment) {
        return copy(new Segment[] {segment}, 0, ShardTable.ROUTING_END);
    }

    private SegmentImage copy(Segment[] segments, long from, long to) {
        final SegmentImage image = SegmentImage.copyOf(memory, segments, from, to);
        if (image != SegmentImage.EMPTY) {
            shardCopies.incrementAndGet();
        }
        return image;
    }

    void copiedOnWrite() {
        copiesOnWrite.incrementAndGet();
    }

    /**
     * Under {@code shard}'s write lock, before its segment's memory is released (the map closing, a drained
     * shard of a rebalance): a {@code COW} snapshot that still reads it live gets its copy now, and the cached
     * copy is dropped.
     */
    static void beforeRelease(Shard shard) {
        final Segment.ChangeHook hook = shard.segment.pendingChangeHook();
        if (hook instanceof CowCopy) {
            ((CowCopy) hook).beforeRelease(shard.segment);
            shard.segment.beforeNextChange(null);
        }
        final SegmentImage cached = shard.cachedImage;
        if (cached != null) {
            shard.cachedImage = null;
            cached.release();
        }
    }

    /** The map is closing: retained versions let go (their copies are freed once no handle holds them). */
    void close() {
        synchronized (lock) {
            closed = true;
            while (!retained.isEmpty()) {
                retained.removeFirst().releaseHandle();
            }
        }
    }

    /**
     * Returns what snapshots have cost so far.
     *
     * @return what snapshots have cost so far
     */
    public SnapshotStats stats() {
        synchronized (lock) {
            return new SnapshotStats(taken.get(), shardCopies.get(), reusedCopies.get(), copiesOnWrite.get(),
                memory.usedBytes(), retained.size(), lastVersion);
        }
    }
}
