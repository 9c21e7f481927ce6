package io.starshard.jmh.segment;

import io.starshard.offheap.EpochDomain;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentSpec;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.HashMap;

import static io.starshard.jmh.segment.BytesWorkload.KEY_BYTES;
import static io.starshard.jmh.segment.BytesWorkload.VALUE_BYTES;

/**
 * One {@code byte[16] -> byte[100]} map behind a common face; as {@link LongMapAdapter}, one subclass per fork.
 *
 * <p><b>Asymmetry, on purpose and reported:</b> a segment get copies the 100 value bytes out of off-heap
 * memory into a reusable buffer (that is its contract); a {@code HashMap} get returns a reference to the
 * stored array and touches none of its bytes. A segment put copies 100 bytes in; a {@code HashMap} put stores
 * a reference.
 */
abstract class BytesMapAdapter implements AutoCloseable {
    /** The segment's maximum entry size: exactly one key and one value. */
    static final int MAX_ENTRY_BYTES = KEY_BYTES + VALUE_BYTES;

    final BytesWorkload w;

    BytesMapAdapter(BytesWorkload w) {
        this.w = w;
    }

    /** Creates the adapter of {@code impl}, loaded with every key unless {@code op} starts from empty. */
    static BytesMapAdapter create(SegmentBenchmark.BytesImpl impl, BytesWorkload w, Op op) {
        final BytesMapAdapter adapter;
        switch (impl) {
            case STARSHARD:
                adapter = new Starshard(w, op != Op.INSERT);
                break;
            case HASH_MAP:
                adapter = new JdkHashMap(w, op, op != Op.INSERT);
                break;
            default:
                throw new IllegalArgumentException(String.valueOf(impl));
        }
        if (op != Op.INSERT) {
            adapter.load();
            if (adapter.size() != w.n) {
                throw new IllegalStateException(impl + " holds " + adapter.size() + " entries after loading " + w.n);
            }
            for (int i = 0; i < Math.min(w.n, 1000); i++) {
                if (op == Op.GET && adapter.get(i) == null || op == Op.GET_MISS && adapter.getMiss(i) != null) {
                    throw new IllegalStateException(impl + ": " + op + " of key " + i + " gave the wrong answer");
                }
            }
        }
        return adapter;
    }

    /** Inserts every key of the workload, each with its own copy of a pool value. */
    abstract void load();

    /** The value of present key {@code i} of {@code w.lookup} (a filled buffer or the stored array). */
    abstract Object get(int i);

    /** Lookup of absent key {@code i} of {@code w.misses}: null. */
    abstract Object getMiss(int i);

    /** Overwrites present key {@code i} of {@code w.lookup} with a pool value. */
    abstract int put(int i);

    /** Inserts key {@code i} of {@code w.keys} into a growing map; {@code i == 0} starts a new, empty map first. */
    abstract int insertFromEmpty(int i);

    /** Removes present key {@code i} of {@code w.lookup} and inserts it again with a pool value. */
    abstract int removeAndPut(int i);

    abstract int size();

    @Override
    public abstract void close();

    /** The off-heap segment, indirect slots and arena entries; the key is hashed in the measured method. */
    static final class Starshard extends BytesMapAdapter {
        private final KeyHasher hasher = new KeyHasher(0x5EED_0003L);
        private final OffHeapMemory memory = OffHeapMemory.unlimited();
        private final EpochDomain epochs = new EpochDomain();
        private final SegmentSpec spec;
        /** Reusable destination of gets, sized for the maximum entry as {@link Segment#get} requires. */
        private final UnsafeBuffer out = new UnsafeBuffer(new byte[MAX_ENTRY_BYTES]);
        private Segment segment;

        Starshard(BytesWorkload w, boolean presized) {
            super(w);
            final SegmentSpec indirect = SegmentSpec.indirect(MAX_ENTRY_BYTES);
            spec = presized ? indirect.withInitialEntries(w.n) : indirect;
            segment = new Segment(spec, memory, epochs);
        }

        @Override
        void load() {
            for (int i = 0; i < w.n; i++) {
                put(w.keys, i);
            }
        }

        private boolean put(UnsafeBuffer keys, int i) {
            final int at = i * KEY_BYTES;
            return segment.put(hasher.hash(keys, at, KEY_BYTES), keys, at, KEY_BYTES,
                w.valuePool, BytesWorkload.valueOffset(i), VALUE_BYTES);
        }

        @Override
        Object get(int i) {
            final UnsafeBuffer keys = w.lookup;
            final int at = i * KEY_BYTES;
            final int length = segment.optimisticGet(hasher.hash(keys, at, KEY_BYTES), keys, at, KEY_BYTES, out, 0);
            return length >= 0 ? out : null;
        }

        @Override
        Object getMiss(int i) {
            final UnsafeBuffer keys = w.misses;
            final int at = i * KEY_BYTES;
            final int length = segment.optimisticGet(hasher.hash(keys, at, KEY_BYTES), keys, at, KEY_BYTES, out, 0);
            return length >= 0 ? out : null;
        }

        @Override
        int put(int i) {
            return put(w.lookup, i) ? 1 : 0;
        }

        @Override
        int insertFromEmpty(int i) {
            if (i == 0) {
                segment.close();
                segment = new Segment(spec, memory, epochs);
            }
            return put(w.keys, i) ? 1 : 0;
        }

        @Override
        int removeAndPut(int i) {
            final UnsafeBuffer keys = w.lookup;
            final int at = i * KEY_BYTES;
            final boolean removed = segment.remove(hasher.hash(keys, at, KEY_BYTES), keys, at, KEY_BYTES);
            return (removed ? 1 : 0) + (put(keys, i) ? 1 : 0);
        }

        @Override
        int size() {
            return segment.size();
        }

        @Override
        public void close() {
            segment.close();
            if (memory.usedBytes() != 0) {
                throw new IllegalStateException("segment leaked " + memory.usedBytes() + " off-heap bytes");
            }
        }
    }

    /**
     * {@code HashMap<ByteKey, byte[]>}. Loaded entries own their key and value arrays, allocated together at
     * load time; lookups use separate pre-built {@link ByteKey}s (a real {@code equals}, not an identity hit).
     */
    static final class JdkHashMap extends BytesMapAdapter {
        private final boolean presized;
        private HashMap<ByteKey, byte[]> map;
        private final ByteKey[] lookup;
        private final ByteKey[] misses;
        private final ByteKey[] keys;
        private final byte[][] valuePool;

        JdkHashMap(BytesWorkload w, Op op, boolean presized) {
            super(w);
            this.presized = presized;
            map = presized ? new HashMap<>(LongMapAdapter.hashMapCapacity(w.n)) : new HashMap<>();
            lookup = op == Op.GET || op == Op.PUT || op == Op.REMOVE ? keys(w.lookup, w.n) : null;
            misses = op == Op.GET_MISS ? keys(w.misses, w.n) : null;
            keys = op == Op.INSERT ? keys(w.keys, w.n) : null;
            valuePool = new byte[BytesWorkload.VALUE_POOL][];
            for (int i = 0; i < valuePool.length; i++) {
                valuePool[i] = value(i);
            }
        }

        private static ByteKey[] keys(UnsafeBuffer buffer, int n) {
            final ByteKey[] keys = new ByteKey[n];
            for (int i = 0; i < n; i++) {
                keys[i] = new ByteKey(BytesWorkload.keyBytes(buffer, i));
            }
            return keys;
        }

        private byte[] value(int i) {
            final byte[] value = new byte[VALUE_BYTES];
            w.valuePool.getBytes(BytesWorkload.valueOffset(i), value);
            return value;
        }

        @Override
        void load() {
            for (int i = 0; i < w.n; i++) {
                map.put(new ByteKey(BytesWorkload.keyBytes(w.keys, i)), value(i));
            }
        }

        @Override
        Object get(int i) {
            return map.get(lookup[i]);
        }

        @Override
        Object getMiss(int i) {
            return map.get(misses[i]);
        }

        @Override
        int put(int i) {
            return map.put(lookup[i], valuePool[i & (BytesWorkload.VALUE_POOL - 1)]) == null ? 1 : 0;
        }

        @Override
        int insertFromEmpty(int i) {
            if (i == 0) {
                map = presized ? new HashMap<>(LongMapAdapter.hashMapCapacity(w.n)) : new HashMap<>();
            }
            return map.put(keys[i], valuePool[i & (BytesWorkload.VALUE_POOL - 1)]) == null ? 1 : 0;
        }

        @Override
        int removeAndPut(int i) {
            final byte[] removed = map.remove(lookup[i]);
            return (removed == null ? 0 : 1)
                + (map.put(lookup[i], valuePool[i & (BytesWorkload.VALUE_POOL - 1)]) == null ? 1 : 0);
        }

        @Override
        int size() {
            return map.size();
        }

        @Override
        public void close() {
            map = null;
        }
    }
}
