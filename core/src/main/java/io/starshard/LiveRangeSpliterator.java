package io.starshard;

import java.util.Spliterator;
import java.util.function.Consumer;

/**
 * The spliterator of the live views: a part of the hash space, {@code [from, to)} in routing bits, iterated as
 * {@link ShardSnapshotIterator} does (per-shard consistent, weakly consistent overall), and split in halves of the
 * hash space so that a parallel stream gives each core its own shards.
 *
 * <p>Why split by hash position and not by shard index: a rebalance may change the shard count while the parts
 * run, and a hash range stays the same set of keys whatever the count. A part smaller than one shard is still
 * correct (its iterator filters the shard by routing bits), but it scans the whole shard for its share, so
 * splitting stops at about a quarter of a shard and at {@link #MIN_SPLIT_ENTRIES} estimated entries.
 *
 * @param <K> key type
 * @param <V> value type
 * @param <T> element type
 */
final class LiveRangeSpliterator<K, V, T> implements Spliterator<T> {
    /** Below this estimated size a part is not split: the fork costs more than the work. */
    static final long MIN_SPLIT_ENTRIES = 4096;

    private final ShardedHashMap<K, V> map;
    private final int kind;
    private final int characteristics;
    private long from;
    private final long to;
    private ShardSnapshotIterator<K, V, T> iterator;

    LiveRangeSpliterator(ShardedHashMap<K, V> map, int kind, int characteristics, long from, long to) {
        this.map = map;
        this.kind = kind;
        this.characteristics = characteristics;
        this.from = from;
        this.to = to;
    }

    private ShardSnapshotIterator<K, V, T> iterator() {
        if (iterator == null) {
            iterator = new ShardSnapshotIterator<>(map, kind, from, to);
        }
        return iterator;
    }

    @Override
    public boolean tryAdvance(Consumer<? super T> action) {
        final ShardSnapshotIterator<K, V, T> it = iterator();
        if (!it.hasNext()) {
            return false;
        }
        action.accept(it.next());
        return true;
    }

    @Override
    public void forEachRemaining(Consumer<? super T> action) {
        iterator().forEachRemaining(action);
    }

    @Override
    public Spliterator<T> trySplit() {
        if (iterator != null) {
            return null;   // started: its position is inside a shard's copy
        }
        final long width = to - from;
        final long quarterShard = Math.max(1, (ShardSnapshotIterator.END / map.shardCount()) / 4);
        if (width < 2 * quarterShard || estimateSize() < 2 * MIN_SPLIT_ENTRIES) {
            return null;
        }
        long middle = from + width / 2;
        final long shardWidth = ShardSnapshotIterator.END / map.shardCount();
        if (width >= 2 * shardWidth) {
            middle = middle / shardWidth * shardWidth;   // on a shard boundary when the halves are whole shards
        }
        final LiveRangeSpliterator<K, V, T> prefix = new LiveRangeSpliterator<>(map, kind, characteristics, from,
            middle);
        from = middle;
        return prefix;
    }

    @Override
    public long estimateSize() {
        final double share = (double) (to - from) / ShardSnapshotIterator.END;
        return (long) Math.ceil(map.mappingCount() * share);
    }

    @Override
    public int characteristics() {
        return characteristics;
    }
}
