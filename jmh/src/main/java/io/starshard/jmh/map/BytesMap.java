package io.starshard.jmh.map;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.starshard.ShardedHashMap;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import org.caffinitas.ohc.CacheSerializer;
import org.caffinitas.ohc.OHCache;
import org.caffinitas.ohc.OHCacheBuilder;

/**
 * One {@code String(16) -> byte[100]} map under test.
 *
 * <p>Off-heap maps copy the value in and out (that is what they are for); the on-heap maps store and return
 * references. Starshard reads into the calling thread's reusable array ({@code get(key, reuse)}) and writes
 * with {@code set}, which does not decode the previous value; the peers use their plain API.
 */
abstract class BytesMap implements AutoCloseable {
    /** Value length in bytes. */
    static final int VALUE_BYTES = 100;

    /** Returns the value of key number {@code index} (possibly {@code reuse}), or null. */
    abstract byte[] get(int index, byte[] reuse);

    /** Overwrites the value of key number {@code index}. */
    abstract void put(int index, byte[] value);

    /** Off-heap bytes the implementation holds, or 0 for on-heap maps. */
    abstract long offHeapBytes();

    @Override
    public abstract void close();

    static BytesMap create(MapImpl impl, String[] keys) {
        switch (impl) {
            case STARSHARD: return new Starshard(keys);
            case CHM: return new Chm(keys);
            case CHRONICLE: return new Chronicle(keys);
            case OHC: return new Ohc(keys);
            case CAFFEINE: return new CaffeineCache(keys);
            default: throw new IllegalArgumentException("unknown implementation " + impl);
        }
    }

    /** The initial value of key number {@code i}: 100 bytes derived from the index. */
    static byte[] initialValue(int i) {
        final byte[] v = new byte[VALUE_BYTES];
        for (int j = 0; j < VALUE_BYTES; j++) {
            v[j] = (byte) (i * 31 + j);
        }
        return v;
    }

    /** Starshard: indirect slots, built-in String and byte[] codecs. */
    static final class Starshard extends BytesMap {
        private final String[] keys;
        private final ShardedHashMap<String, byte[]> map;

        Starshard(String[] keys) {
            this.keys = keys;
            this.map = ShardedHashMap.builder(String.class, byte[].class).expectedEntries(keys.length).build();
            for (int i = 0; i < keys.length; i++) {
                map.set(keys[i], initialValue(i));
            }
        }

        @Override
        byte[] get(int index, byte[] reuse) {
            return map.get(keys[index], reuse);
        }

        @Override
        void put(int index, byte[] value) {
            map.set(keys[index], value);
        }

        @Override
        long offHeapBytes() {
            return map.memoryStats().usedBytes();
        }

        @Override
        public void close() {
            map.close();
        }
    }

    /** {@code ConcurrentHashMap<String, byte[]>}. */
    static final class Chm extends BytesMap {
        private final String[] keys;
        private final ConcurrentHashMap<String, byte[]> map;

        Chm(String[] keys) {
            this.keys = keys;
            map = new ConcurrentHashMap<>(keys.length * 4 / 3 + 16);
            for (int i = 0; i < keys.length; i++) {
                map.put(keys[i], initialValue(i));
            }
        }

        @Override
        byte[] get(int index, byte[] reuse) {
            return map.get(keys[index]);
        }

        @Override
        void put(int index, byte[] value) {
            map.put(keys[index], value);
        }

        @Override
        long offHeapBytes() {
            return 0;
        }

        @Override
        public void close() {
            map.clear();
        }
    }

    /** Chronicle Map with average key and value sizes declared. */
    static final class Chronicle extends BytesMap {
        private final String[] keys;
        private final ChronicleMap<String, byte[]> map;

        Chronicle(String[] keys) {
            this.keys = keys;
            map = ChronicleMapBuilder.of(String.class, byte[].class)
                .averageKey(keys[0]).averageValue(new byte[VALUE_BYTES]).entries(keys.length).create();
            for (int i = 0; i < keys.length; i++) {
                map.put(keys[i], initialValue(i));
            }
        }

        @Override
        byte[] get(int index, byte[] reuse) {
            return map.get(keys[index]);
        }

        @Override
        void put(int index, byte[] value) {
            map.put(keys[index], value);
        }

        @Override
        long offHeapBytes() {
            return map.offHeapMemoryUsed();
        }

        @Override
        public void close() {
            map.close();
        }
    }

    /** OHC with UTF-8 key and raw byte[] value serializers, never evicting. */
    static final class Ohc extends BytesMap {
        private final String[] keys;
        private final OHCache<String, byte[]> cache;

        Ohc(String[] keys) {
            this.keys = keys;
            cache = OHCacheBuilder.<String, byte[]>newBuilder()
                .keySerializer(StringSerializer.INSTANCE)
                .valueSerializer(BytesSerializer.INSTANCE)
                .capacity(Math.max(64L << 20, keys.length * 512L))
                .hashTableSize(Math.max(8192, Integer.highestOneBit(keys.length / 64 + 1) * 2))
                .build();
            for (int i = 0; i < keys.length; i++) {
                cache.put(keys[i], initialValue(i));
            }
            if (cache.size() != keys.length) {
                throw new IllegalStateException("OHC evicted entries: " + cache.size() + " of " + keys.length);
            }
        }

        @Override
        byte[] get(int index, byte[] reuse) {
            return cache.get(keys[index]);
        }

        @Override
        void put(int index, byte[] value) {
            cache.put(keys[index], value);
        }

        @Override
        long offHeapBytes() {
            return cache.memUsed();
        }

        @Override
        public void close() {
            try {
                cache.close();
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /** Caffeine bounded cache sized above the entries. */
    static final class CaffeineCache extends BytesMap {
        private final String[] keys;
        private final Cache<String, byte[]> cache;

        CaffeineCache(String[] keys) {
            this.keys = keys;
            cache = Caffeine.newBuilder().maximumSize(keys.length * 2L).initialCapacity(keys.length).build();
            for (int i = 0; i < keys.length; i++) {
                cache.put(keys[i], initialValue(i));
            }
        }

        @Override
        byte[] get(int index, byte[] reuse) {
            return cache.getIfPresent(keys[index]);
        }

        @Override
        void put(int index, byte[] value) {
            cache.put(keys[index], value);
        }

        @Override
        long offHeapBytes() {
            return 0;
        }

        @Override
        public void close() {
            cache.invalidateAll();
        }
    }

    /** OHC serializer: UTF-8 bytes, no length prefix needed beyond OHC's own. */
    enum StringSerializer implements CacheSerializer<String> {
        INSTANCE;

        @Override
        public void serialize(String value, ByteBuffer buf) {
            final byte[] b = value.getBytes(StandardCharsets.UTF_8);
            buf.putInt(b.length).put(b);
        }

        @Override
        public String deserialize(ByteBuffer buf) {
            final byte[] b = new byte[buf.getInt()];
            buf.get(b);
            return new String(b, StandardCharsets.UTF_8);
        }

        @Override
        public int serializedSize(String value) {
            return Integer.BYTES + value.getBytes(StandardCharsets.UTF_8).length;
        }
    }

    /** OHC serializer for byte[]: length and bytes. */
    enum BytesSerializer implements CacheSerializer<byte[]> {
        INSTANCE;

        @Override
        public void serialize(byte[] value, ByteBuffer buf) {
            buf.putInt(value.length).put(value);
        }

        @Override
        public byte[] deserialize(ByteBuffer buf) {
            final byte[] b = new byte[buf.getInt()];
            buf.get(b);
            return b;
        }

        @Override
        public int serializedSize(byte[] value) {
            return Integer.BYTES + value.length;
        }
    }
}
