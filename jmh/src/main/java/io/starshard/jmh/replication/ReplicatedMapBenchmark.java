package io.starshard.jmh.replication;

import io.starshard.replication.ReplicatedShardedHashMap;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;
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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * A three-member replicated map in the benchmark's JVM (loopback, one machine: every member competes for the same
 * cores, so these are lower bounds for three machines). Writes go from a follower's client through the leader's log
 * and back; {@code get} is a local read. Parameters: the members' idle strategy and fsync.
 *
 * <pre>{@code java -jar jmh/target/benchmarks.jar ReplicatedMapBenchmark            # one writer thread
 * java -jar jmh/target/benchmarks.jar ReplicatedMapBenchmark.put -t 8            # eight}</pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgs = "-Xmx2g")
public class ReplicatedMapBenchmark {

    /** JMH instantiates the benchmark class. */
    public ReplicatedMapBenchmark() {
    }

    /** Three members and the follower the benchmark writes through. */
    @State(Scope.Benchmark)
    public static class ClusterState {
        /** The members' idle strategy. */
        @Param({"backoff", "backoff100us", "yielding", "sleeping"})
        public String idle;

        /** Whether the log is forced to disk. */
        @Param({"false"})
        public boolean fsync;

        Path root;
        final List<ReplicatedShardedHashMap<Long, Long>> members = new ArrayList<>();
        ReplicatedShardedHashMap<Long, Long> client;

        /** Starts the cluster and loads 10,000 keys. */
        @Setup(Level.Trial)
        public void setUp() throws Exception {
            root = Files.createTempDirectory("starshard-replication-bench");
            final Supplier<IdleStrategy> strategy = switch (idle) {
                case "busyspin" -> BusySpinIdleStrategy::new;
                case "yielding" -> YieldingIdleStrategy::new;
                case "sleeping" -> () -> new SleepingMillisIdleStrategy(1);
                case "backoff100us" -> () -> new BackoffIdleStrategy(10, 20, 1_000, 100_000);
                default -> () -> new BackoffIdleStrategy(10, 20, 1_000, 1_000_000);
            };
            final List<CompletableFuture<ReplicatedShardedHashMap<Long, Long>>> starting = new ArrayList<>();
            for (int m = 0; m < 3; m++) {
                final int member = m;
                starting.add(CompletableFuture.supplyAsync(() -> ReplicatedShardedHashMap.<Long, Long>builder(
                        Long.class, Long.class)
                    .memberId(member).portBase(22000).directory(root.resolve("member-" + member))
                    .idleStrategy(strategy).fsync(fsync).heartbeatTimeout(Duration.ofSeconds(2))
                    .errorHandler(e -> { })
                    .build()));
            }
            for (CompletableFuture<ReplicatedShardedHashMap<Long, Long>> f : starting) {
                members.add(f.join());
            }
            int leader = -1;
            while (leader < 0) {
                for (int m = 0; m < 3; m++) {
                    if (members.get(m).isLeader()) {
                        leader = m;
                    }
                }
                Thread.sleep(10);
            }
            client = members.get((leader + 1) % 3);
            final Map<Long, Long> keys = new HashMap<>();
            for (long k = 0; k < 10_000; k++) {
                keys.put(k, k);
            }
            client.putAll(keys);
        }

        /** Stops the cluster and deletes its directories. */
        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            members.forEach(ReplicatedShardedHashMap::close);
            try (Stream<Path> files = Files.walk(root)) {
                for (Path p : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Per-thread keys and a reusable batch. */
    @State(Scope.Thread)
    public static class ThreadState {
        final SplittableRandom random = new SplittableRandom();
        final Map<Long, Long> batch = new HashMap<>();
        final Long[] keys = new Long[10_000];
        final List<CompletableFuture<Long>> inFlight = new ArrayList<>(java.util.Collections.nCopies(64, null));

        /** Boxes the keys once. */
        @Setup
        public void setUp() {
            for (int i = 0; i < keys.length; i++) {
                keys[i] = (long) i;
            }
        }
    }

    /**
     * One acknowledged put: committed by a majority, applied by the leader and by the writer's member.
     *
     * @param cluster the cluster
     * @param thread  this thread's keys
     * @return the previous value
     */
    @Benchmark
    public Long put(ClusterState cluster, ThreadState thread) {
        return cluster.client.put(thread.keys[thread.random.nextInt(10_000)], 1L);
    }

    /**
     * 64 entries in one command (multiply by 64 for entries per second).
     *
     * @param cluster the cluster
     * @param thread  this thread's keys and batch
     */
    @Benchmark
    public void putAll64(ClusterState cluster, ThreadState thread) {
        thread.batch.clear();
        for (int i = 0; i < 64; i++) {
            thread.batch.put(thread.keys[thread.random.nextInt(10_000)], 2L);
        }
        cluster.client.putAll(thread.batch);
    }

    /**
     * 64 puts in flight at once from one thread ({@code putAsync}, then wait for all; multiply by 64).
     *
     * @param cluster the cluster
     * @param thread  this thread's keys
     */
    @Benchmark
    public void putAsync64(ClusterState cluster, ThreadState thread) {
        for (int i = 0; i < 64; i++) {
            thread.inFlight.set(i, cluster.client.putAsync(thread.keys[thread.random.nextInt(10_000)], 3L));
        }
        for (int i = 0; i < 64; i++) {
            thread.inFlight.get(i).join();
        }
    }

    /**
     * A local read on the writer's member.
     *
     * @param cluster the cluster
     * @param thread  this thread's keys
     * @return the value
     */
    @Benchmark
    public Long get(ClusterState cluster, ThreadState thread) {
        return cluster.client.get(thread.keys[thread.random.nextInt(10_000)]);
    }
}
