package io.starshard;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code java.io.Serializable} and Kryo round trips of maps and snapshots: entries, shard count and snapshot mode
 * come back, the hash seed does not, and the result is an ordinary, working map or a standalone snapshot.
 */
class SerializationTest {
    private static ShardedHashMap<Long, String> sample() {
        final ShardedHashMap<Long, String> map = ShardedHashMap.<Long, String>builder(Long.class, String.class)
            .shards(12).snapshotMode(SnapshotMode.COW).hashSeed(99).build();
        for (long k = 0; k < 5_000; k++) {
            map.put(k, "v" + k);
        }
        return map;
    }

    private static byte[] serialize(Object o) throws IOException {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        return bytes.toByteArray();
    }

    private static Object deserialize(byte[] bytes) throws IOException, ClassNotFoundException {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
            return in.readObject();
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void aMapComesBackEqualWithItsShardCountAndANewSeed() throws Exception {
        try (ShardedHashMap<Long, String> map = sample()) {
            final Map<Long, String> expected = new HashMap<>(map);
            try (ShardedHashMap<Long, String> copy = (ShardedHashMap<Long, String>) deserialize(serialize(map))) {
                assertEquals(expected, copy);
                assertEquals(12, copy.shardCount());
                assertEquals(SnapshotMode.COW, copy.snapshotMode());
                assertNotEquals(99, copy.hashSeed(), "the seed is not kept");
                copy.put(-1L, "new");
                assertEquals("new", copy.get(-1L));
                MapInvariants.checkLive(copy);
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void aSnapshotComesBackAsAStandaloneSnapshot() throws Exception {
        try (ShardedHashMap<Long, String> map = sample(); MapSnapshot<Long, String> snapshot = map.snapshot()) {
            final Map<Long, String> expected = snapshot.toMap();
            map.clear();
            try (MapSnapshot<Long, String> copy = (MapSnapshot<Long, String>) deserialize(serialize(snapshot))) {
                assertEquals(expected, copy.toMap());
                assertEquals("v7", copy.get(7L));
                assertEquals(SnapshotMode.COW, copy.mode());
            }
        }
    }

    @Test
    void aClosedMapOrSnapshotIsNotSerialised() {
        final ShardedHashMap<Long, String> map = sample();
        final MapSnapshot<Long, String> snapshot = map.snapshot();
        snapshot.close();
        map.close();
        assertThrows(IllegalStateException.class, () -> serialize(map));
        assertThrows(IllegalStateException.class, () -> serialize(snapshot));
    }

    @Test
    @SuppressWarnings("unchecked")
    void kryoRoundTripsMapsAndSnapshots() {
        final Kryo kryo = new Kryo();
        KryoSerializers.register(kryo);
        try (ShardedHashMap<Long, String> map = sample(); MapSnapshot<Long, String> snapshot = map.snapshot()) {
            final Output out = new Output(1 << 10, -1);
            kryo.writeObject(out, map);
            kryo.writeObject(out, snapshot);
            final Map<Long, String> expected = new HashMap<>(map);
            map.put(1L, "changed");
            final Input in = new Input(out.toBytes());
            try (ShardedHashMap<Long, String> copy = kryo.readObject(in, ShardedHashMap.class);
                 MapSnapshot<Long, String> snapCopy = kryo.readObject(in, MapSnapshot.class)) {
                assertEquals(expected, copy);
                assertEquals(12, copy.shardCount());
                assertEquals(expected, snapCopy.toMap());
                assertTrue(snapCopy.containsKey(4_999L));
            }
        }
    }

    @Test
    void aForgedStreamIsRefused() throws Exception {
        try (ShardedHashMap<Long, String> map = sample()) {
            final byte[] bytes = serialize(map);
            // The entry count follows the proxy's fields; forge it negative wherever the 8 bytes of 5000 are.
            final byte[] count = {0, 0, 0, 0, 0, 0, 0x13, (byte) 0x88};
            int at = -1;
            for (int i = 0; i + 8 <= bytes.length && at < 0; i++) {
                if (java.util.Arrays.equals(bytes, i, i + 8, count, 0, 8)) {
                    at = i;
                }
            }
            assertTrue(at > 0, "the count is in the stream");
            bytes[at] = (byte) 0xFF;
            assertThrows(java.io.InvalidObjectException.class, () -> deserialize(bytes));
        }
    }
}
