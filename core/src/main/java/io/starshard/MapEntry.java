package io.starshard;

import io.starshard.internal.ValueEquality;

import java.util.Map;

/**
 * An entry returned by iteration: a decoded copy whose {@link #setValue} writes through to the map.
 *
 * @param <K> key type
 * @param <V> value type
 */
final class MapEntry<K, V> implements Map.Entry<K, V> {
    private final ShardedHashMap<K, V> map;
    private final K key;
    private V value;

    MapEntry(ShardedHashMap<K, V> map, K key, V value) {
        this.map = map;
        this.key = key;
        this.value = value;
    }

    @Override
    public K getKey() {
        return key;
    }

    @Override
    public V getValue() {
        return value;
    }

    /** Puts the new value into the map (whether or not the key is still present) and into this entry. */
    @Override
    public V setValue(V newValue) {
        if (newValue == null) {
            throw new NullPointerException("value");
        }
        final V old = value;
        map.put(key, newValue);
        value = newValue;
        return old;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Map.Entry<?, ?> e && key.equals(e.getKey()) && value.equals(e.getValue());
    }

    /** {@code key ^ value} hash codes per {@link Map.Entry#hashCode}, arrays by content so that it is stable. */
    @Override
    public int hashCode() {
        return ValueEquality.elementHash(key) ^ ValueEquality.elementHash(value);
    }

    @Override
    public String toString() {
        return key + "=" + value;
    }
}
