package io.starshard;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;

import java.util.Map;

/**
 * Kryo serialisers for {@link ShardedHashMap} and {@link MapSnapshot}, with the same meaning as their
 * {@link java.io.Serializable} form: the entries, the shard count and the snapshot mode, not the memory and not the
 * hash seed. Keys and values are written with {@code kryo.writeClassAndObject}, so the Kryo instance must know
 * their classes (registration, as Kryo requires by default). Read back, a map is a new map with the built-in or
 * default codecs of its types; a snapshot is a new snapshot that stands alone.
 *
 * <pre>{@code KryoSerializers.register(kryo);
 * kryo.writeObject(output, map);
 * ShardedHashMap<Long, String> copy = kryo.readObject(input, ShardedHashMap.class);}</pre>
 */
public final class KryoSerializers {
    /** The highest entry count a stream may declare before any entry is read. */
    private static final long MAX_ENTRIES = Integer.MAX_VALUE;

    private KryoSerializers() {
    }

    /**
     * Registers the serialisers of {@link ShardedHashMap} and {@link MapSnapshot} with {@code kryo}.
     *
     * @param kryo the Kryo instance
     */
    public static void register(Kryo kryo) {
        kryo.register(ShardedHashMap.class, new MapSerializer());
        kryo.register(MapSnapshot.class, new SnapshotSerializer());
        kryo.register(Class.class);
    }

    private static void writeEntries(Kryo kryo, Output out, Class<?> keyType, Class<?> valueType, int shards,
                                     SnapshotMode mode, Map<?, ?> entries) {
        kryo.writeObject(out, keyType);
        kryo.writeObject(out, valueType);
        out.writeVarInt(shards, true);
        out.writeVarInt(mode.ordinal(), true);
        final Object[] all = entries.entrySet().toArray();
        out.writeVarLong(all.length, true);
        for (Object o : all) {
            final Map.Entry<?, ?> e = (Map.Entry<?, ?>) o;
            kryo.writeClassAndObject(out, e.getKey());
            kryo.writeClassAndObject(out, e.getValue());
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static ShardedHashMap<Object, Object> readEntries(Kryo kryo, Input in) {
        final Class<?> keyType = kryo.readObject(in, Class.class);
        final Class<?> valueType = kryo.readObject(in, Class.class);
        final int shards = in.readVarInt(true);
        final int mode = in.readVarInt(true);
        final long count = in.readVarLong(true);
        if (shards < 1 || shards > ShardedHashMap.MAX_SHARDS || mode >= SnapshotMode.values().length
            || count < 0 || count > MAX_ENTRIES) {
            throw new KryoException("a serialised ShardedHashMap declares " + shards + " shards, mode " + mode
                + " and " + count + " entries");
        }
        final ShardedHashMap<Object, Object> map = ShardedHashMap.builder((Class) keyType, (Class) valueType)
            .shards(shards).snapshotMode(SnapshotMode.values()[mode]).build();
        try {
            for (long i = 0; i < count; i++) {
                final Object key = kryo.readClassAndObject(in);
                final Object value = kryo.readClassAndObject(in);
                if (!keyType.isInstance(key) || !valueType.isInstance(value)) {
                    throw new KryoException("entry " + i + " does not have the types " + keyType.getName() + " -> "
                        + valueType.getName());
                }
                map.put(key, value);
            }
            return map;
        } catch (RuntimeException e) {
            map.close();
            throw e;
        }
    }

    @SuppressWarnings("rawtypes")
    private static final class MapSerializer extends Serializer<ShardedHashMap> {
        @Override
        public void write(Kryo kryo, Output output, ShardedHashMap map) {
            writeEntries(kryo, output, map.keyType(), map.valueType(), map.shardCount(), map.snapshotMode(), map);
        }

        @Override
        public ShardedHashMap read(Kryo kryo, Input input, Class<? extends ShardedHashMap> type) {
            return readEntries(kryo, input);
        }
    }

    @SuppressWarnings("rawtypes")
    private static final class SnapshotSerializer extends Serializer<MapSnapshot> {
        @Override
        public void write(Kryo kryo, Output output, MapSnapshot snapshot) {
            writeEntries(kryo, output, snapshot.keyType(), snapshot.valueType(), snapshot.shardCount(),
                snapshot.mode(), snapshot);
        }

        @Override
        public MapSnapshot read(Kryo kryo, Input input, Class<? extends MapSnapshot> type) {
            try (ShardedHashMap<Object, Object> map = readEntries(kryo, input)) {
                return map.snapshot();
            }
        }
    }
}
