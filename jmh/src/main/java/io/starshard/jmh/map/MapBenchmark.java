package io.starshard.jmh.map;

import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * {@code ShardedHashMap} beside {@code ConcurrentHashMap}, Chronicle Map, OHC and Caffeine in one run:
 * 90% get / 10% put over present keys, {@code long -> long} and {@code String(16) -> byte[100]}, at 1M and
 * 10M entries. Threads come from the command line ({@code -t 1}, {@code -t 2}); the map is shared by them.
 *
 * <p>Run (the report in docs/benchmarks.md used exactly this):
 * <pre>{@code java -jar jmh/target/benchmarks.jar MapBenchmark -prof gc -t 1
 * java -jar jmh/target/benchmarks.jar MapBenchmark -prof gc -t 2}</pre>
 *
 * <p>Fairness rules: keys, access order and the operation mix are generated in setup from fixed seeds; each
 * thread walks its own random permutation of the keys; puts overwrite present keys so the size is constant;
 * every map is presized for its entries. At setup the heap delta (after full GCs) and the off-heap bytes of
 * the loaded map are printed as a {@code footprint} line.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 4, time = 2)
@Fork(value = 1, jvmArgs = "-Xmx14g")
public class MapBenchmark {

    /** JMH instantiates the benchmark class. */
    public MapBenchmark() {
    }

    /** The shared {@code long -> long} map and its keys. */
    @State(Scope.Benchmark)
    public static class LongState {
        /** Implementation under test. */
        @Param({"STARSHARD", "CHM", "CHM_DISTINCT_BOXES", "CHRONICLE", "OHC", "CAFFEINE"})
        public MapImpl impl;

        /** Entries loaded before measuring. */
        @Param({"1000000", "10000000"})
        public int entries;

        LongMap map;
        int[] order;

        /** Generates keys, loads the map and prints its footprint. */
        @Setup(Level.Trial)
        public void setUp() {
            final long[] keys = Workload.longKeys(entries);
            order = Workload.permutation(entries, 7);
            final long heapBefore = Workload.settledHeapBytes();
            map = LongMap.create(impl, keys);
            printFootprint("long->long", impl, entries, Workload.settledHeapBytes() - heapBefore, map.offHeapBytes());
        }

        /** Frees the map. */
        @TearDown(Level.Trial)
        public void tearDown() {
            map.close();
        }
    }

    /** The shared {@code String(16) -> byte[100]} map and its keys. */
    @State(Scope.Benchmark)
    public static class BytesState {
        /** Implementation under test. */
        @Param({"STARSHARD", "CHM", "CHRONICLE", "OHC", "CAFFEINE"})
        public MapImpl impl;

        /** Entries loaded before measuring. */
        @Param({"1000000", "10000000"})
        public int entries;

        BytesMap map;
        int[] order;

        /** Generates keys, loads the map and prints its footprint. */
        @Setup(Level.Trial)
        public void setUp() {
            final String[] keys = Workload.stringKeys(entries);
            order = Workload.permutation(entries, 7);
            final long heapBefore = Workload.settledHeapBytes();
            map = BytesMap.create(impl, keys);
            printFootprint("String16->byte[100]", impl, entries, Workload.settledHeapBytes() - heapBefore,
                map.offHeapBytes());
        }

        /** Frees the map. */
        @TearDown(Level.Trial)
        public void tearDown() {
            map.close();
        }
    }

    static void printFootprint(String workload, MapImpl impl, int entries, long heapBytes, long offHeapBytes) {
        System.out.printf(Locale.ROOT, "%nfootprint %s %s entries=%d heapBytesPerEntry=%.1f offHeapBytesPerEntry=%.1f%n",
            workload, impl, entries, (double) heapBytes / entries, (double) offHeapBytes / entries);
    }

    /** One thread's position in its own permutation and its operation pattern. */
    @State(Scope.Thread)
    public static class Cursor {
        int position;
        int op;
        boolean[] writes;
        byte[] reuse;
        byte[] value;
        long counter;
        final long[] batchKeys = new long[BATCH];
        final long[] batchValues = new long[BATCH];

        /**
         * Starts each thread at a different place with a different mix order.
         *
         * @param thread JMH's thread parameters
         */
        @Setup(Level.Trial)
        public void setUp(ThreadParams thread) {
            position = thread.getThreadIndex() * 7919;
            writes = Workload.writePattern(10, 1000 + thread.getThreadIndex());
            reuse = new byte[BytesMap.VALUE_BYTES];
            value = BytesMap.initialValue(thread.getThreadIndex());
        }

        /** Starts the next batch of {@link #BATCH} positions and returns its first; wraps before the end. */
        int nextBatch(int n) {
            int p = position + BATCH;
            if (p > n - BATCH) {
                p = 0;
            }
            position = p;
            return p;
        }

        int next(int n) {
            int p = position + 1;
            if (p >= n) {
                p = 0;
            }
            position = p;
            return p;
        }

        boolean nextIsWrite() {
            return writes[op++ & (Workload.PATTERN - 1)];
        }
    }

    /**
     * 90% get / 10% put, {@code long -> long}.
     *
     * @param state  the shared map
     * @param cursor this thread's position
     * @return the value read (or written)
     */
    @Benchmark
    public long longGetPut(LongState state, Cursor cursor) {
        final int index = state.order[cursor.next(state.entries)];
        if (cursor.nextIsWrite()) {
            final long v = ++cursor.counter;
            state.map.put(index, v);
            return v;
        }
        return state.map.get(index);
    }

    /**
     * 100% get, {@code long -> long}: the time per get, for the comparison with {@code ConcurrentHashMap}.
     *
     * @param state  the shared map
     * @param cursor this thread's position
     * @return the value read
     */
    @Benchmark
    public long longGet(LongState state, Cursor cursor) {
        return state.map.get(state.order[cursor.next(state.entries)]);
    }

    /**
     * 100% get, {@code long -> long}, each get's key chosen by the previous get's value: the latency of a get
     * (ns), for a caller that needs the value before its next step, where consecutive gets cannot overlap. The
     * keys still follow the thread's permutation: the value only adds a term that is always zero (the leading
     * zeros of a number whose top bit is set), so the next key's address depends on it without changing it.
     *
     * @param state  the shared map
     * @param cursor this thread's position
     * @return the value read
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long longGetChained(LongState state, Cursor cursor) {
        final long value = state.map.get(state.order[cursor.next(state.entries)]);
        cursor.position += Long.numberOfLeadingZeros(value | Long.MIN_VALUE);
        return value;
    }

    /** Keys per invocation of {@link #longBatchGet}. */
    static final int BATCH = 64;

    /**
     * 100% get, {@code long -> long}, {@value #BATCH} keys of the permutation per invocation: Starshard through
     * its batched {@code getLongs}, every other map through a loop of gets. Scores are per key.
     *
     * @param state  the shared map
     * @param cursor this thread's position
     * @return the sum of the values read
     */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long longBatchGet(LongState state, Cursor cursor) {
        return state.map.getBatch(state.order, cursor.nextBatch(state.entries), BATCH, cursor.batchKeys,
            cursor.batchValues);
    }

    /**
     * 100% get, {@code String(16) -> byte[100]}: the read path alone, to compare with the 90/10 mix.
     *
     * @param state  the shared map
     * @param cursor this thread's position
     * @return the value read
     */
    @Benchmark
    public byte[] bytesGet(BytesState state, Cursor cursor) {
        return state.map.get(state.order[cursor.next(state.entries)], cursor.reuse);
    }

    /**
     * 100% get, {@code String(16) -> byte[100]}, chained like {@link #longGetChained}: the next key's position
     * depends on the first byte of this value (the caller reads the value before its next step).
     *
     * @param state  the shared map
     * @param cursor this thread's position
     * @return the value read
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public byte[] bytesGetChained(BytesState state, Cursor cursor) {
        final byte[] value = state.map.get(state.order[cursor.next(state.entries)], cursor.reuse);
        cursor.position += Long.numberOfLeadingZeros(value[0] | Long.MIN_VALUE);
        return value;
    }

    /**
     * 90% get / 10% put, {@code String(16) -> byte[100]}.
     *
     * @param state  the shared map
     * @param cursor this thread's position
     * @return the value read (or written)
     */
    @Benchmark
    public byte[] bytesGetPut(BytesState state, Cursor cursor) {
        final int index = state.order[cursor.next(state.entries)];
        if (cursor.nextIsWrite()) {
            state.map.put(index, cursor.value);
            return cursor.value;
        }
        return state.map.get(index, cursor.reuse);
    }
}
