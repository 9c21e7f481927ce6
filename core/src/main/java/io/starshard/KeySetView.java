package io.starshard;

/** {@link ShardedHashMap#keySet()}: a live view; removal writes through, adding is not supported. */
final class KeySetView<K, V> extends SetView<K, V, K> {

    KeySetView(ShardedHashMap<K, V> map) {
        super(map, ShardSnapshotIterator.KEYS);
    }

    @Override
    public boolean contains(Object o) {
        return map.containsKey(o);
    }

    @Override
    public boolean remove(Object o) {
        return map.remove(o) != null;
    }
}
