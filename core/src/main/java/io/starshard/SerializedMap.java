package io.starshard;

import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamException;
import java.io.Serializable;
import java.util.Map;

/**
 * The serialised form of a {@link ShardedHashMap} and of a {@link MapSnapshot}: what they hold, not their memory.
 * Written as the key and value types, the shard count, the snapshot mode, the entry count and then every entry's
 * key and value as objects (so keys and values must be {@link Serializable}, as for any JDK map); read back into a
 * new map with those settings and the built-in or default codecs for its types, and, as the original library
 * documents, a new hash seed (a seed is an implementation detail of one process, and keeping it would let a
 * stream chosen by someone else pick the collisions).
 *
 * <p>Why a proxy ({@code writeReplace}/{@code readResolve}): the map's state is off-heap memory, locks and an
 * engine, none of which can or should be serialised; the proxy is the one place that decides what a map is on the
 * wire, for maps and snapshots alike.
 */
final class SerializedMap implements Serializable {
    private static final long serialVersionUID = 1L;
    /** The highest entry count a stream may declare before any entry is read: {@code Integer.MAX_VALUE} entries. */
    private static final long MAX_ENTRIES = Integer.MAX_VALUE;

    private final Class<?> keyType;
    private final Class<?> valueType;
    private final int shards;
    private final SnapshotMode mode;
    /** Whether the stream holds a snapshot, to be read back as one. */
    private final boolean snapshot;
    /** What is written: the entries of the map or snapshot; null once read, until {@link #readResolve}. */
    private transient Map<?, ?> source;
    /** What was read: a new map holding the entries. */
    private transient ShardedHashMap<Object, Object> rebuilt;

    SerializedMap(Class<?> keyType, Class<?> valueType, int shards, SnapshotMode mode, boolean snapshot,
                  Map<?, ?> source) {
        this.keyType = keyType;
        this.valueType = valueType;
        this.shards = shards;
        this.mode = mode;
        this.snapshot = snapshot;
        this.source = source;
    }

    private void writeObject(ObjectOutputStream out) throws IOException {
        out.defaultWriteObject();
        // A snapshot's entries do not change; a live map's may while it is written: count what is written.
        final Object[] entries = source.entrySet().toArray();
        out.writeLong(entries.length);
        for (Object o : entries) {
            final Map.Entry<?, ?> e = (Map.Entry<?, ?>) o;
            out.writeObject(e.getKey());
            out.writeObject(e.getValue());
        }
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        final long count = in.readLong();
        if (count < 0 || count > MAX_ENTRIES || shards < 1 || shards > ShardedHashMap.MAX_SHARDS || mode == null
            || keyType == null || valueType == null) {
            throw new InvalidObjectException("a serialised ShardedHashMap declares " + count + " entries, " + shards
                + " shards, mode " + mode + ", types " + keyType + " -> " + valueType);
        }
        rebuilt = rawBuilder(keyType, valueType).shards(shards).snapshotMode(mode).build();
        try {
            for (long i = 0; i < count; i++) {
                final Object key = in.readObject();
                final Object value = in.readObject();
                if (!keyType.isInstance(key) || !valueType.isInstance(value)) {
                    throw new InvalidObjectException("entry " + i + " is " + describe(key) + " -> "
                        + describe(value) + ", not " + keyType.getName() + " -> " + valueType.getName());
                }
                rebuilt.put(key, value);
            }
        } catch (IOException | ClassNotFoundException | RuntimeException e) {
            rebuilt.close();
            throw e;
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static ShardedHashMapBuilder<Object, Object> rawBuilder(Class<?> keyType, Class<?> valueType) {
        return ShardedHashMap.builder((Class) keyType, (Class) valueType);
    }

    private static String describe(Object o) {
        return o == null ? "null" : o.getClass().getName();
    }

    /** The map read, or a snapshot of it (the map itself is closed: a snapshot outlives its map). */
    private Object readResolve() throws ObjectStreamException {
        if (!snapshot) {
            return rebuilt;
        }
        try {
            return rebuilt.snapshot();
        } finally {
            rebuilt.close();
        }
    }
}
