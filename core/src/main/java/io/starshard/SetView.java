package io.starshard;

import java.util.AbstractSet;
import java.util.Collection;
import java.util.Iterator;
import java.util.Spliterator;

/**
 * The live key and entry set views of {@link ShardedHashMap}: size and clearing delegate to the map, iteration
 * copies shard by shard ({@link ShardSnapshotIterator}), removal writes through; adding is not supported.
 *
 * @param <K> key type
 * @param <V> value type
 * @param <E> element type
 */
abstract class SetView<K, V, E> extends AbstractSet<E> {
    final ShardedHashMap<K, V> map;
    private final int kind;

    SetView(ShardedHashMap<K, V> map, int kind) {
        this.map = map;
        this.kind = kind;
    }

    @Override
    public final Iterator<E> iterator() {
        return new ShardSnapshotIterator<>(map, kind);
    }

    @Override
    public final Spliterator<E> spliterator() {
        return new LiveRangeSpliterator<>(map, kind, ViewSupport.CHARACTERISTICS | Spliterator.DISTINCT, 0,
            ShardSnapshotIterator.END);
    }

    @Override
    public final int size() {
        return map.size();
    }

    @Override
    public final boolean isEmpty() {
        return map.isEmpty();
    }

    /** Iterates this view, never the argument: see {@link ViewSupport#removeAllIterating}. */
    @Override
    public final boolean removeAll(Collection<?> c) {
        return ViewSupport.removeAllIterating(iterator(), c);
    }

    @Override
    public final void clear() {
        map.clear();
    }
}
