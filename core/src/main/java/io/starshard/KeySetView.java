package io.starshard;

import java.util.AbstractSet;
import java.util.Collection;
import java.util.Iterator;
import java.util.Objects;

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

    /**
     * Iterates this view (never the argument) and removes what {@code c} contains, as
     * {@code ConcurrentHashMap}'s views do: {@code AbstractSet}'s variant would call {@code remove} with the
     * argument's elements, which throws for a null element.
     */
    @Override
    public boolean removeAll(Collection<?> c) {
        Objects.requireNonNull(c, "c");
        boolean modified = false;
        for (Iterator<?> it = iterator(); it.hasNext();) {
            if (c.contains(it.next())) {
                it.remove();
                modified = true;
            }
        }
        return modified;
    }

    @Override
    public void clear() {
        map.clear();
    }
}
