package io.starshard.jmh.persistence;

import io.starshard.ShardedHashMap;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
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
import org.openjdk.jmh.infra.ThreadParams;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A persisted map's get and put beside the same map in memory and Chronicle Map persisted to a file, in one run:
 * 1M {@code long -> long} entries, random present keys, puts overwrite. A Starshard put on a persisted map also
 * appends a journal record to a memory-mapped file (and the background checkpoints run when the journal passes
 * its threshold); a Chronicle Map persisted to a file keeps its segments in the mapped file itself.
 *
 * <pre>{@code java -jar jmh/target/benchmarks.jar PersistedMapBenchmark -prof gc}</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = "-Xmx4g")
public class PersistedMapBenchmark {
    private static final long MISSING = Long.MIN_VALUE;

    /** JMH instantiates the benchmark class. */
    public PersistedMapBenchmark() {
    }

    /** The implementations compared. */
    public enum Impl {
        /** {@code ShardedHashMap}, in memory (the reference). */
        STARSHARD_MEMORY,
        /** {@code ShardedHashMap} built with {@code persistedTo(dir)}. */
        STARSHARD_PERSISTED,
        /** Chronicle Map 2026.1 created with {@code createPersistedTo(file)}. */
        CHRONICLE_PERSISTED
    }

    /** The shared map. */
    @State(Scope.Benchmark)
    public static class MapState {
        /** Implementation under test. */
        @Param({"STARSHARD_MEMORY", "STARSHARD_PERSISTED", "CHRONICLE_PERSISTED"})
        public Impl impl;

        /** Entries loaded before measuring. */
        @Param({"1000000"})
        public int entries;

        /** The persisted map's {@code checkpointAfter}, in MiB (the default is 256). */
        @Param({"256"})
        public long checkpointMiB;

        Path dir;
        ShardedHashMap<Long, Long> starshard;
        ChronicleMap<Long, Long> chronicle;
        Long[] boxed;

        /** Loads the map. */
        @Setup(Level.Trial)
        public void setUp() throws IOException {
            dir = Files.createTempDirectory("persisted-bench");
            boxed = new Long[entries];
            for (int i = 0; i < entries; i++) {
                boxed[i] = (long) i;
            }
            switch (impl) {
                case STARSHARD_MEMORY:
                    starshard = ShardedHashMap.builder(Long.class, Long.class).expectedEntries(entries).build();
                    break;
                case STARSHARD_PERSISTED:
                    starshard = ShardedHashMap.builder(Long.class, Long.class).expectedEntries(entries)
                        .persistedTo(dir.resolve("map")).checkpointAfter(checkpointMiB << 20).build();
                    break;
                default:
                    chronicle = ChronicleMapBuilder.of(Long.class, Long.class).entries(entries)
                        .createPersistedTo(dir.resolve("chronicle.dat").toFile());
            }
            for (int i = 0; i < entries; i++) {
                if (starshard != null) {
                    starshard.putLong(i, i, MISSING);
                } else {
                    chronicle.put(boxed[i], boxed[i]);
                }
            }
        }

        /** Closes the map and deletes its files. */
        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            if (starshard != null) {
                starshard.close();
            } else {
                chronicle.close();
            }
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Each thread's own random key stream. */
    @State(Scope.Thread)
    public static class Keys {
        SplittableRandom random;

        /**
         * Seeds the stream by thread.
         *
         * @param thread JMH's thread parameters
         */
        @Setup(Level.Trial)
        public void setUp(ThreadParams thread) {
            random = new SplittableRandom(42 + thread.getThreadIndex());
        }
    }

    /**
     * A lookup of a present key.
     *
     * @param m the map
     * @param k the key stream
     * @return the value
     */
    @Benchmark
    public long get(MapState m, Keys k) {
        final int i = k.random.nextInt(m.entries);
        if (m.starshard != null) {
            return m.starshard.getLong(i, MISSING);
        }
        final Long v = m.chronicle.get(m.boxed[i]);
        return v == null ? MISSING : v;
    }

    /**
     * An overwrite of a present key.
     *
     * @param m the map
     * @param k the key stream
     * @return the previous value
     */
    @Benchmark
    public long put(MapState m, Keys k) {
        final int i = k.random.nextInt(m.entries);
        final long value = k.random.nextLong();
        if (m.starshard != null) {
            return m.starshard.putLong(i, value, MISSING);
        }
        final Long previous = m.chronicle.put(m.boxed[i], value);
        return previous == null ? MISSING : previous;
    }
}
