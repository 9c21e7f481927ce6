package io.starshard;

import io.starshard.internal.ValueEquality;

import java.util.AbstractCollection;
import java.util.Collection;
import java.util.Iterator;
import java.util.Spliterator;

/** {@link ShardedHashMap#values()}: a live view; removal writes through, adding is not supported. */
final class ValuesView<K, V> extends AbstractCollection<V> {
    private final ShardedHashMap<K, V> map;

    ValuesView(ShardedHashMap<K, V> map) {
        this.map = map;
    }

    @Override
    public Iterator<V> iterator() {
        return new ShardSnapshotIterator<>(map, ShardSnapshotIterator.VALUES);
    }

    @Override
    public Spliterator<V> spliterator() {
        return new LiveRangeSpliterator<>(map, ShardSnapshotIterator.VALUES, ViewSupport.CHARACTERISTICS, 0,
            ShardSnapshotIterator.END);
    }

    @Override
    public int size() {
        return map.size();
    }

    @Override
    public boolean isEmpty() {
        return map.isEmpty();
    }

    /** Compares by {@code equals}, arrays by content (see {@link ShardedHashMap#containsValue}). */
    @Override
    public boolean contains(Object o) {
        return map.containsValue(o);
    }

    /**
     * Removes one entry whose value matches {@code o} (arrays by content); false for null, as
     * {@code ConcurrentHashMap}'s values view answers.
     */
    @Override
    public boolean remove(Object o) {
        if (o == null) {
            map.engine().checkUsable();
            return false;
        }
        for (Iterator<V> it = iterator(); it.hasNext();) {
            if (ValueEquality.valueEquals(o, it.next())) {
                it.remove();
                return true;
            }
        }
        return false;
    }

    /** Iterates this view, never the argument: see {@link ViewSupport#removeAllIterating}. */
    @Override
    public boolean removeAll(Collection<?> c) {
        return ViewSupport.removeAllIterating(iterator(), c);
    }

    @Override
    public void clear() {
        map.clear();
    }
}
