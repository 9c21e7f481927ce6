package io.starshard.jmh.segment;

import io.starshard.offheap.EpochDomain;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentSpec;
import org.agrona.collections.Long2LongHashMap;

import java.util.HashMap;

/**
 * One {@code long -> long} map behind a common face, so every implementation runs the same benchmark code.
 *
 * <p>Each JMH fork instantiates exactly one subclass, so the calls from the benchmark methods are monomorphic
 * and inlined: the adapter costs nothing. Index {@code i} selects a pre-generated key of the
 * {@link LongWorkload}; nothing is generated, boxed or allocated inside the measured methods (the
 * {@code HashMap} variant uses keys and values boxed during setup).
 */
abstract class LongMapAdapter implements AutoCloseable {
    final LongWorkload w;

    LongMapAdapter(LongWorkload w) {
        this.w = w;
    }

    /** Creates the adapter of {@code impl}, loaded with every key unless {@code op} starts from empty. */
    static LongMapAdapter create(SegmentBenchmark.LongImpl impl, LongWorkload w, Op op) {
        final LongMapAdapter adapter;
        switch (impl) {
            case STARSHARD:
                adapter = new Starshard(w, op != Op.INSERT);
                break;
            case HASH_MAP:
                adapter = new JdkHashMap(w, op, op != Op.INSERT);
                break;
            case LONG2LONG:
                adapter = new Agrona(w, op != Op.INSERT);
                break;
            default:
                throw new IllegalArgumentException(String.valueOf(impl));
        }
        if (op != Op.INSERT) {
            adapter.load();
            if (adapter.size() != w.n) {
                throw new IllegalStateException(impl + " holds " + adapter.size() + " entries after loading " + w.n);
            }
            adapter.verify(op);
        }
        return adapter;
    }

    /** Inserts every key of the workload with its first value. */
    abstract void load();

    /** Value of present key {@code w.lookup[i]}. */
    abstract long get(int i);

    /** Lookup of absent key {@code w.misses[i]}: {@link LongWorkload#MISSING}. */
    abstract long getMiss(int i);

    /** Overwrites present key {@code w.lookup[i]} with {@code w.newValues[i]}. */
    abstract long put(int i);

    /** Inserts {@code w.keys[i]} into a growing map; {@code i == 0} starts a new, empty map first. */
    abstract long insertFromEmpty(int i);

    /** Removes present key {@code w.lookup[i]} and inserts it again with {@code w.newValues[i]}. */
    abstract long removeAndPut(int i);

    abstract int size();

    @Override
    public abstract void close();

    /** Checks, outside the measurement, that the operation does what it claims on this data. */
    private void verify(Op op) {
        for (int i = 0; i < Math.min(w.n, 1000); i++) {
            if (op == Op.GET_MISS && getMiss(i) != LongWorkload.MISSING) {
                throw new IllegalStateException(getClass().getSimpleName() + ": miss key " + i + " was found");
            }
            if (op == Op.GET && get(i) == LongWorkload.MISSING) {
                throw new IllegalStateException(getClass().getSimpleName() + ": key " + i + " was not found");
            }
        }
    }

    /** The off-heap segment, inline {@code long -> long} slots; the hash is computed in the measured method. */
    static final class Starshard extends LongMapAdapter {
        private final KeyHasher hasher = new KeyHasher(0x5EED_0003L);
        private final OffHeapMemory memory = OffHeapMemory.unlimited();
        private final EpochDomain epochs = new EpochDomain();
        private final SegmentSpec spec;
        private Segment segment;

        Starshard(LongWorkload w, boolean presized) {
            super(w);
            final SegmentSpec inline = SegmentSpec.inline(8, 8, hasher);
            spec = presized ? inline.withInitialEntries(w.n) : inline;
            segment = new Segment(spec, memory, epochs);
        }

        @Override
        void load() {
            for (int i = 0; i < w.n; i++) {
                segment.putLong(hasher.hashFixed(w.keys[i]), w.values[i]);
            }
        }

        @Override
        long get(int i) {
            return segment.optimisticGetLong(hasher.hashFixed(w.lookup[i]), LongWorkload.MISSING);
        }

        @Override
        long getMiss(int i) {
            return segment.optimisticGetLong(hasher.hashFixed(w.misses[i]), LongWorkload.MISSING);
        }

        @Override
        long put(int i) {
            return segment.putLong(hasher.hashFixed(w.lookup[i]), w.newValues[i]) ? 1 : 0;
        }

        @Override
        long insertFromEmpty(int i) {
            if (i == 0) {
                segment.close();
                segment = new Segment(spec, memory, epochs);
            }
            return segment.putLong(hasher.hashFixed(w.keys[i]), w.values[i]) ? 1 : 0;
        }

        @Override
        long removeAndPut(int i) {
            final long hash = hasher.hashFixed(w.lookup[i]);
            return (segment.remove(hash, null, 0, 0) ? 1 : 0) + (segment.putLong(hash, w.newValues[i]) ? 1 : 0);
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
     * {@code HashMap<Long, Long>}. Entries are loaded with keys and values boxed at load time (so key, value and
     * node sit together, as in a map filled by an application); lookups use separate pre-boxed {@code Long}s,
     * as a caller's freshly boxed key would be, so {@code equals} is a real comparison, not an identity hit.
     * A get unboxes the value: a caller that wants the {@code long} must read the {@code Long}.
     */
    static final class JdkHashMap extends LongMapAdapter {
        private final boolean presized;
        private HashMap<Long, Long> map;
        private final Long[] lookup;
        private final Long[] newValues;
        private final Long[] misses;
        private final Long[] keys;
        private final Long[] values;

        JdkHashMap(LongWorkload w, Op op, boolean presized) {
            super(w);
            this.presized = presized;
            map = newMap();
            lookup = op == Op.GET || op == Op.PUT || op == Op.REMOVE ? box(w.lookup) : null;
            newValues = op == Op.PUT || op == Op.REMOVE ? box(w.newValues) : null;
            misses = op == Op.GET_MISS ? box(w.misses) : null;
            keys = op == Op.INSERT ? box(w.keys) : null;
            values = op == Op.INSERT ? box(w.values) : null;
        }

        private HashMap<Long, Long> newMap() {
            return presized ? new HashMap<>(hashMapCapacity(w.n)) : new HashMap<>();
        }

        static Long[] box(long[] from) {
            final Long[] boxed = new Long[from.length];
            for (int i = 0; i < from.length; i++) {
                boxed[i] = Long.valueOf(from[i]);
            }
            return boxed;
        }

        @Override
        void load() {
            for (int i = 0; i < w.n; i++) {
                map.put(w.keys[i], w.values[i]);   // boxing here, during setup, on purpose (see class comment)
            }
        }

        @Override
        long get(int i) {
            final Long value = map.get(lookup[i]);
            return value == null ? LongWorkload.MISSING : value;
        }

        @Override
        long getMiss(int i) {
            final Long value = map.get(misses[i]);
            return value == null ? LongWorkload.MISSING : value;
        }

        @Override
        long put(int i) {
            return map.put(lookup[i], newValues[i]) == null ? 1 : 0;
        }

        @Override
        long insertFromEmpty(int i) {
            if (i == 0) {
                map = new HashMap<>();
            }
            return map.put(keys[i], values[i]) == null ? 1 : 0;
        }

        @Override
        long removeAndPut(int i) {
            return (map.remove(lookup[i]) == null ? 0 : 1) + (map.put(lookup[i], newValues[i]) == null ? 1 : 0);
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

    /** Agrona's open-addressing {@code Long2LongHashMap} (keys and values interleaved in one {@code long[]}). */
    static final class Agrona extends LongMapAdapter {
        private Long2LongHashMap map;

        Agrona(LongWorkload w, boolean presized) {
            super(w);
            map = presized ? new Long2LongHashMap(long2LongCapacity(w.n), AGRONA_LOAD_FACTOR, LongWorkload.MISSING)
                : new Long2LongHashMap(LongWorkload.MISSING);
        }

        @Override
        void load() {
            for (int i = 0; i < w.n; i++) {
                map.put(w.keys[i], w.values[i]);
            }
        }

        @Override
        long get(int i) {
            return map.get(w.lookup[i]);
        }

        @Override
        long getMiss(int i) {
            return map.get(w.misses[i]);
        }

        @Override
        long put(int i) {
            return map.put(w.lookup[i], w.newValues[i]);
        }

        @Override
        long insertFromEmpty(int i) {
            if (i == 0) {
                map = new Long2LongHashMap(LongWorkload.MISSING);
            }
            return map.put(w.keys[i], w.values[i]);
        }

        @Override
        long removeAndPut(int i) {
            return map.remove(w.lookup[i]) + map.put(w.lookup[i], w.newValues[i]);
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

    /** Agrona's default load factor ({@code Hashing.DEFAULT_LOAD_FACTOR}), used presized and grown alike. */
    static final float AGRONA_LOAD_FACTOR = 0.65f;

    /** {@code HashMap} initial capacity that holds {@code n} entries without resizing (load factor 0.75). */
    static int hashMapCapacity(int n) {
        return (int) Math.ceil(n / 0.75);
    }

    /** {@code Long2LongHashMap} capacity (slots, rounded up to a power of two by Agrona) for {@code n} entries. */
    static int long2LongCapacity(int n) {
        return (int) Math.ceil(n / (double) AGRONA_LOAD_FACTOR) + 1;
    }
}
