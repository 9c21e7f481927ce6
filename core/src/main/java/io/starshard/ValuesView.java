package io.starshard;

import java.util.AbstractCollection;
import java.util.Iterator;

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
    public int size() {
        return map.size();
    }

    @Override
    public boolean isEmpty() {
        return map.isEmpty();
    }

    @Override
    public boolean contains(Object o) {
        return map.containsValue(o);
    }

    @Override
    public void clear() {
        map.clear();
    }
}
