package io.starshard;

import java.util.AbstractSet;
import java.util.Collection;
import java.util.Iterator;
import java.util.Map;

/** {@link ShardedHashMap#entrySet()}: a live view; removal and {@code setValue} write through. */
final class EntrySetView<K, V> extends AbstractSet<Map.Entry<K, V>> {
    private final ShardedHashMap<K, V> map;

    EntrySetView(ShardedHashMap<K, V> map) {
        this.map = map;
    }

    @Override
    public Iterator<Map.Entry<K, V>> iterator() {
        return new ShardSnapshotIterator<>(map, ShardSnapshotIterator.ENTRIES);
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
        if (!(o instanceof Map.Entry<?, ?> e) || e.getKey() == null || e.getValue() == null) {
            map.checkUsable();
            return false;
        }
        final Object value = map.get(e.getKey());
        return value != null && ShardedHashMap.valueEquals(e.getValue(), value);
    }

    @Override
    public boolean remove(Object o) {
        if (!(o instanceof Map.Entry<?, ?> e) || e.getKey() == null || e.getValue() == null) {
            map.checkUsable();
            return false;
        }
        return map.remove(e.getKey(), e.getValue());
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
