package io.starshard.jmh.segment;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;

import java.util.concurrent.TimeUnit;

/**
 * Single-threaded get and put of one off-heap {@code Segment} beside {@code java.util.HashMap} and Agrona's
 * {@code Long2LongHashMap}, at 1K (in cache), 1M and 10M (out of cache) entries.
 *
 * <p>Two workloads, one nested class each (JMH runs every {@code @Param} combination of a class, and
 * {@code Long2LongHashMap} only applies to the first):
 * <ul>
 *   <li>{@link LongToLong}: {@code long -> long}; the segment uses the inline slot format.</li>
 *   <li>{@link Bytes16To100}: 16-byte keys, 100-byte values; the segment uses the indirect format.</li>
 * </ul>
 *
 * <p>Fairness rules (docs/benchmarks.md repeats them next to the numbers):
 * <ul>
 *   <li>Keys are pre-generated from a seeded {@code SplittableRandom}; gets and overwrites walk the present keys
 *       in a random permutation (sequential in the key array, random in the map). Nothing is generated, boxed
 *       or allocated inside a {@code @Benchmark} method; the cursor wraps with a compare, not a modulo.</li>
 *   <li>Every implementation hashes its key inside the measured method: the segment calls its
 *       {@code KeyHasher}, {@code HashMap} calls {@code hashCode()}, Agrona its own mixer.</li>
 *   <li>{@code get}, {@code getMiss} and {@code put} run against a map presized for {@code entries} and loaded
 *       in setup; {@code put} overwrites present keys, so the size stays constant. {@code insertFromEmpty}
 *       starts from a default-sized map and recreates it after every {@code entries} inserts, so it includes
 *       growth (and, for the segment, allocating and freeing tables).</li>
 * </ul>
 * Run: {@code java -jar jmh/target/benchmarks.jar SegmentBenchmark -prof gc}.
 */
public class SegmentBenchmark {
    /** Implementations of the {@code long -> long} workload. */
    public enum LongImpl {
        /** Off-heap segment, inline slots: {@code getLong} / {@code putLong} with {@code hashFixed(key)}. */
        STARSHARD,
        /** {@code java.util.HashMap<Long, Long>} with pre-boxed keys and values. */
        HASH_MAP,
        /** {@code org.agrona.collections.Long2LongHashMap} with a missing value. */
        LONG2LONG
    }

    /** Implementations of the {@code byte[16] -> byte[100]} workload. */
    public enum BytesImpl {
        /** Off-heap segment, indirect slots: the value is copied into a reusable buffer. */
        STARSHARD,
        /** {@code java.util.HashMap<ByteKey, byte[]>}: the value is returned by reference. */
        HASH_MAP
    }

    private SegmentBenchmark() {
    }

    /** {@code long -> long}. */
    @State(Scope.Thread)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @Fork(value = 1, jvmArgs = {"-Xmx12g", "-XX:+UseParallelGC"})
    public static class LongToLong {
        /** Entries in the map. */
        @Param({"1000", "1000000", "10000000"})
        public int entries;

        /** The map under test. */
        @Param({"STARSHARD", "HASH_MAP", "LONG2LONG"})
        public LongImpl implementation;

        private LongMapAdapter map;
        private int n;
        private int cursor;

        /**
         * Generates the keys and builds the map this benchmark method needs.
         *
         * @param params tells which method runs, so only its data is prepared
         */
        @Setup(Level.Trial)
        public void setUp(BenchmarkParams params) {
            final Op op = Op.ofBenchmark(params.getBenchmark());
            map = LongMapAdapter.create(implementation, new LongWorkload(entries, op == Op.GET_MISS), op);
            n = entries;
            cursor = 0;
        }

        /** Frees the segment's memory (and checks that all of it came back). */
        @TearDown(Level.Trial)
        public void tearDown() {
            map.close();
        }

        private int next() {
            final int i = cursor;
            cursor = i + 1 == n ? 0 : i + 1;
            return i;
        }

        /**
         * Get of a present key.
         *
         * @return the value
         */
        @Benchmark
        public long get() {
            return map.get(next());
        }

        /**
         * Get of an absent key.
         *
         * @return the missing value
         */
        @Benchmark
        public long getMiss() {
            return map.getMiss(next());
        }

        /**
         * Overwrite of a present key.
         *
         * @return whether the key was new (never) / the old value
         */
        @Benchmark
        public long put() {
            return map.put(next());
        }

        /**
         * Insert into a map grown from empty, amortised over {@code entries} inserts.
         *
         * @return whether the key was new
         */
        @Benchmark
        public long insertFromEmpty() {
            return map.insertFromEmpty(next());
        }

        /**
         * Removal of a present key and its insertion again (the size stays constant; tombstones come and go).
         *
         * @return 2: removed, then new
         */
        @Benchmark
        public long removeAndPut() {
            return map.removeAndPut(next());
        }
    }

    /** {@code byte[16] -> byte[100]}. */
    @State(Scope.Thread)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @Fork(value = 1, jvmArgs = {"-Xmx12g", "-XX:+UseParallelGC"})
    public static class Bytes16To100 {
        /** Entries in the map. */
        @Param({"1000", "1000000", "10000000"})
        public int entries;

        /** The map under test. */
        @Param({"STARSHARD", "HASH_MAP"})
        public BytesImpl implementation;

        private BytesMapAdapter map;
        private int n;
        private int cursor;

        /**
         * Generates the keys and builds the map this benchmark method needs.
         *
         * @param params tells which method runs, so only its data is prepared
         */
        @Setup(Level.Trial)
        public void setUp(BenchmarkParams params) {
            final Op op = Op.ofBenchmark(params.getBenchmark());
            map = BytesMapAdapter.create(implementation, new BytesWorkload(entries, op == Op.GET_MISS), op);
            n = entries;
            cursor = 0;
        }

        /** Frees the segment's memory (and checks that all of it came back). */
        @TearDown(Level.Trial)
        public void tearDown() {
            map.close();
        }

        private int next() {
            final int i = cursor;
            cursor = i + 1 == n ? 0 : i + 1;
            return i;
        }

        /**
         * Get of a present key: the segment copies the value out, {@code HashMap} returns its reference.
         *
         * @return the value holder
         */
        @Benchmark
        public Object get() {
            return map.get(next());
        }

        /**
         * Get of an absent key.
         *
         * @return null
         */
        @Benchmark
        public Object getMiss() {
            return map.getMiss(next());
        }

        /**
         * Overwrite of a present key with a 100-byte value (in place for the segment).
         *
         * @return whether the key was new (never)
         */
        @Benchmark
        public int put() {
            return map.put(next());
        }

        /**
         * Insert into a map grown from empty, amortised over {@code entries} inserts.
         *
         * @return whether the key was new
         */
        @Benchmark
        public int insertFromEmpty() {
            return map.insertFromEmpty(next());
        }

        /**
         * Removal of a present key and its insertion again (the size stays constant; tombstones come and go).
         *
         * @return 2: removed, then new
         */
        @Benchmark
        public int removeAndPut() {
            return map.removeAndPut(next());
        }
    }
}
