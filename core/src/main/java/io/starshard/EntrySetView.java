package io.starshard;

import io.starshard.internal.ValueEquality;

import java.util.Map;

/** {@link ShardedHashMap#entrySet()}: a live view; removal and {@code setValue} write through. */
final class EntrySetView<K, V> extends SetView<K, V, Map.Entry<K, V>> {

    EntrySetView(ShardedHashMap<K, V> map) {
        super(map, ShardSnapshotIterator.ENTRIES);
    }

    @Override
    public boolean contains(Object o) {
        if (!(o instanceof Map.Entry<?, ?> e) || e.getKey() == null || e.getValue() == null) {
            map.engine().checkUsable();
            return false;
        }
        final Object value = map.get(e.getKey());
        return value != null && ValueEquality.valueEquals(e.getValue(), value);
    }

    @Override
    public boolean remove(Object o) {
        if (!(o instanceof Map.Entry<?, ?> e) || e.getKey() == null || e.getValue() == null) {
            map.engine().checkUsable();
            return false;
        }
        return map.remove(e.getKey(), e.getValue());
    }
}
