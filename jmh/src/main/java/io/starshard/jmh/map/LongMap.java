package io.starshard.jmh.map;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.starshard.ShardedHashMap;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentHashMap;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import org.caffinitas.ohc.CacheSerializer;
import org.caffinitas.ohc.OHCache;
import org.caffinitas.ohc.OHCacheBuilder;

/**
 * One {@code long -> long} map under test, behind the two calls the benchmark makes.
 *
 * <p>Each implementation is used the way a performance-minded user would: Starshard through its primitive
 * methods, the on-heap maps with keys and values boxed once up front (so the benchmark does not charge them
 * for boxing that a real caller might avoid by caching), the off-heap peers through their plain API.
 */
abstract class LongMap implements AutoCloseable {
    /** Missing-value marker for the primitive path. */
    static final long MISSING = Long.MIN_VALUE;

    /** Returns the value of key number {@code index}, or {@link #MISSING}. */
    abstract long get(int index);

    /**
     * Reads keys number {@code indices[from]} to {@code indices[from + count - 1]} and returns the sum of their
     * values (so that nothing can be optimised away). The default is the loop a caller would write; an
     * implementation with a batched read overrides it.
     *
     * @param scratchKeys   the calling thread's own array of at least {@code count} elements
     * @param scratchValues the calling thread's own array of at least {@code count} elements
     */
    long getBatch(int[] indices, int from, int count, long[] scratchKeys, long[] scratchValues) {
        long sum = 0;
        for (int i = from, end = from + count; i < end; i++) {
            sum += get(indices[i]);
        }
        return sum;
    }

    /** Overwrites the value of key number {@code index}. */
    abstract void put(int index, long value);

    /** Off-heap bytes the implementation holds, or 0 for on-heap maps. */
    abstract long offHeapBytes();

    @Override
    public abstract void close();

    static LongMap create(MapImpl impl, long[] keys) {
        switch (impl) {
            case STARSHARD: return new Starshard(keys);
            case CHM: return new Chm(keys, false);
            case CHM_DISTINCT_BOXES: return new Chm(keys, true);
            case CHRONICLE: return new Chronicle(keys);
            case OHC: return new Ohc(keys);
            case CAFFEINE: return new CaffeineCache(keys);
            default: throw new IllegalArgumentException("unknown implementation " + impl);
        }
    }

    /** Starshard: inline {@code long -> long} slots, primitive access, no boxing anywhere. */
    static final class Starshard extends LongMap {
        private final long[] keys;
        private final ShardedHashMap<Long, Long> map;

        Starshard(long[] keys) {
            this.keys = keys;
            this.map = ShardedHashMap.builder(Long.class, Long.class).expectedEntries(keys.length).build();
            for (long k : keys) {
                map.putLong(k, k, MISSING);
            }
        }

        @Override
        long get(int index) {
            return map.getLong(keys[index], MISSING);
        }

        /** Gathers the keys, then one {@code getLongs} call: the batched read path. */
        @Override
        long getBatch(int[] indices, int from, int count, long[] scratchKeys, long[] scratchValues) {
            for (int i = 0; i < count; i++) {
                scratchKeys[i] = keys[indices[from + i]];
            }
            map.getLongs(scratchKeys, scratchValues, 0, count, MISSING);
            long sum = 0;
            for (int i = 0; i < count; i++) {
                sum += scratchValues[i];
            }
            return sum;
        }

        @Override
        void put(int index, long value) {
            map.putLong(keys[index], value, MISSING);
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

    /** {@code ConcurrentHashMap<Long, Long>} with pre-boxed keys; puts box the value (as any caller must). */
    static final class Chm extends LongMap {
        private final Long[] keys;
        private final ConcurrentHashMap<Long, Long> map;

        /**
         * Loads the map.
         *
         * @param raw           the keys (each is also its value)
         * @param distinctBoxes false: the map stores each lookup key's own {@code Long} as key and as value
         *                      ({@link MapImpl#CHM}); true: it holds its own key and value objects, boxed while
         *                      loading so they sit next to their node, and lookups pass a third
         *                      ({@link MapImpl#CHM_DISTINCT_BOXES}, the method of {@code SegmentBenchmark})
         */
        Chm(long[] raw, boolean distinctBoxes) {
            keys = box(raw);
            map = new ConcurrentHashMap<>(raw.length * 4 / 3 + 16);
            for (int i = 0; i < raw.length; i++) {
                if (distinctBoxes) {
                    map.put(Long.valueOf(raw[i]), Long.valueOf(raw[i]));
                } else {
                    map.put(keys[i], keys[i]);
                }
            }
        }

        @Override
        long get(int index) {
            final Long v = map.get(keys[index]);
            return v == null ? MISSING : v;
        }

        @Override
        void put(int index, long value) {
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

    /** Chronicle Map, in memory, sized for the entries up front. */
    static final class Chronicle extends LongMap {
        private final Long[] keys;
        private final ChronicleMap<Long, Long> map;

        Chronicle(long[] raw) {
            keys = box(raw);
            map = ChronicleMapBuilder.of(Long.class, Long.class).entries(raw.length).create();
            for (Long k : keys) {
                map.put(k, k);
            }
        }

        @Override
        long get(int index) {
            final Long v = map.get(keys[index]);
            return v == null ? MISSING : v;
        }

        @Override
        void put(int index, long value) {
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

    /** OHC with {@code long} serializers, capacity large enough that nothing is evicted. */
    static final class Ohc extends LongMap {
        private final Long[] keys;
        private final OHCache<Long, Long> cache;

        Ohc(long[] raw) {
            keys = box(raw);
            cache = OHCacheBuilder.<Long, Long>newBuilder()
                .keySerializer(LongSerializer.INSTANCE)
                .valueSerializer(LongSerializer.INSTANCE)
                .capacity(Math.max(64L << 20, raw.length * 256L))
                .hashTableSize(Math.max(8192, Integer.highestOneBit(raw.length / 64 + 1) * 2))
                .build();
            for (Long k : keys) {
                cache.put(k, k);
            }
            if (cache.size() != raw.length) {
                throw new IllegalStateException("OHC evicted entries: " + cache.size() + " of " + raw.length);
            }
        }

        @Override
        long get(int index) {
            final Long v = cache.get(keys[index]);
            return v == null ? MISSING : v;
        }

        @Override
        void put(int index, long value) {
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

    /** Caffeine bounded cache sized above the entries, so it never evicts. */
    static final class CaffeineCache extends LongMap {
        private final Long[] keys;
        private final Cache<Long, Long> cache;

        CaffeineCache(long[] raw) {
            keys = box(raw);
            cache = Caffeine.newBuilder().maximumSize(raw.length * 2L).initialCapacity(raw.length).build();
            for (Long k : keys) {
                cache.put(k, k);
            }
        }

        @Override
        long get(int index) {
            final Long v = cache.getIfPresent(keys[index]);
            return v == null ? MISSING : v;
        }

        @Override
        void put(int index, long value) {
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

    static Long[] box(long[] raw) {
        final Long[] boxed = new Long[raw.length];
        for (int i = 0; i < raw.length; i++) {
            boxed[i] = raw[i];
        }
        return boxed;
    }

    /** OHC serializer for {@code Long}: 8 bytes. */
    enum LongSerializer implements CacheSerializer<Long> {
        INSTANCE;

        @Override
        public void serialize(Long value, ByteBuffer buf) {
            buf.putLong(value);
        }

        @Override
        public Long deserialize(ByteBuffer buf) {
            return buf.getLong();
        }

        @Override
        public int serializedSize(Long value) {
            return Long.BYTES;
        }
    }
}
