package io.starshard.jmh.async;

import io.starshard.AsyncShardedHashMap;
import io.starshard.ShardedHashMap;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The asynchronous map's uncontended path beside the synchronous map's, in one run: get and put of present keys
 * ({@code Long -> Long}, object API, keys boxed up front as a caller holding them would have them), one thread, so
 * every operation completes inline and the difference is the future and the try-don't-wait bookkeeping.
 *
 * <pre>{@code java -jar jmh/target/benchmarks.jar AsyncBenchmark -prof gc}</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgs = "-Xmx2g")
public class AsyncBenchmark {

    /** JMH instantiates the benchmark class. */
    public AsyncBenchmark() {
    }

    /** The map, its asynchronous view and the keys. */
    @State(Scope.Benchmark)
    public static class MapState {
        /** Entries loaded before measuring. */
        @Param({"1000000"})
        public int entries;

        ShardedHashMap<Long, Long> map;
        AsyncShardedHashMap<Long, Long> async;
        Long[] keys;
        Long[] values;

        /** Loads the map. */
        @Setup(Level.Trial)
        public void setUp() {
            map = ShardedHashMap.builder(Long.class, Long.class).expectedEntries(entries).build();
            async = map.async();
            keys = new Long[entries];
            values = new Long[1024];
            for (int i = 0; i < entries; i++) {
                keys[i] = (long) i;
                map.put(keys[i], keys[i]);
            }
            for (int i = 0; i < values.length; i++) {
                values[i] = (long) i << 20;
            }
        }

        /** Frees the map. */
        @TearDown(Level.Trial)
        public void tearDown() {
            map.close();
        }
    }

    /** Each thread's random key stream. */
    @State(Scope.Thread)
    public static class Keys {
        final SplittableRandom random = new SplittableRandom(42);
    }

    /**
     * Synchronous get.
     *
     * @param m the map
     * @param k the key stream
     * @return the value
     */
    @Benchmark
    public Long syncGet(MapState m, Keys k) {
        return m.map.get(m.keys[k.random.nextInt(m.entries)]);
    }

    /**
     * Asynchronous get (completes inline), joined.
     *
     * @param m the map
     * @param k the key stream
     * @return the value
     */
    @Benchmark
    public Long asyncGet(MapState m, Keys k) {
        return m.async.get(m.keys[k.random.nextInt(m.entries)]).join();
    }

    /**
     * Synchronous put of a present key.
     *
     * @param m the map
     * @param k the key stream
     * @return the previous value
     */
    @Benchmark
    public Long syncPut(MapState m, Keys k) {
        return m.map.put(m.keys[k.random.nextInt(m.entries)], m.values[k.random.nextInt(1024)]);
    }

    /**
     * Asynchronous put of a present key (completes inline), joined.
     *
     * @param m the map
     * @param k the key stream
     * @return the previous value
     */
    @Benchmark
    public Long asyncPut(MapState m, Keys k) {
        return m.async.put(m.keys[k.random.nextInt(m.entries)], m.values[k.random.nextInt(1024)]).join();
    }
}
