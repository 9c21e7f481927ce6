package io.starshard;

import java.util.AbstractSet;
import java.util.Collection;
import java.util.Iterator;

/** {@link ShardedHashMap#keySet()}: a live view; removal writes through, adding is not supported. */
final class KeySetView<K, V> extends AbstractSet<K> {
    private final ShardedHashMap<K, V> map;

    KeySetView(ShardedHashMap<K, V> map) {
        this.map = map;
    }

    @Override
    public Iterator<K> iterator() {
        return new ShardSnapshotIterator<>(map, ShardSnapshotIterator.KEYS);
    }

    @Override
    public int size() {
        return map.size();
    }

    @Override
    public boolean isEmpty() {
        return map.isEmpty();
    }

    @Override
    public boolean contains(Object o) {
        return map.containsKey(o);
    }

    @Override
    public boolean remove(Object o) {
        return map.remove(o) != null;
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
