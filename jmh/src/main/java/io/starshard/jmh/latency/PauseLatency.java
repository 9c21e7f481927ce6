package io.starshard.jmh.latency;

import io.starshard.RebalanceOptions;
import io.starshard.RebalanceStatus;
import io.starshard.ShardedHashMap;
import org.HdrHistogram.Histogram;

import java.time.Duration;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;

/**
 * What a rebalance and a table growth do to the latency of the operations around them: get and put latencies at a
 * fixed request rate, before and during a background rebalance of a 10M-entry map from 64 to 256 shards, and before
 * and during the growth of a single-shard map from 1M to 10M entries.
 *
 * <p>Why a fixed rate and not a JMH loop: a pause shows up in the latency of every request that should have started
 * during it, not only in the one that met it. Each request is due at {@code start + i / rate}; its latency is
 * measured from that due time (coordinated omission corrected), so a request delayed behind a long pause counts
 * the whole delay. HdrHistogram keeps the percentiles. The longest single call (from its actual start, without
 * queueing) is reported beside them: for a put it bounds how long the call held its shard's lock.
 *
 * <p>Requests: 90 % gets and 10 % puts of present keys around the rebalance; half gets and half puts around the
 * growth, where the puts insert new keys. Before measuring, the same paths run on a small map, so that the JIT has
 * compiled the migration and growth branches (the first migration in a JVM otherwise meets deoptimisations).
 *
 * <p>Run (the flags are the map's, see README):
 * <pre>{@code java --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED -Xmx6g \
 *   -cp jmh/target/benchmarks.jar io.starshard.jmh.latency.PauseLatency [entries] [rate]}</pre>
 * Defaults: 10,000,000 entries, 200,000 requests per second.
 */
public final class PauseLatency {
    private static final long MAX_LATENCY_NANOS = Duration.ofSeconds(10).toNanos();

    private PauseLatency() {
    }

    /**
     * Runs both scenarios and prints one table each.
     *
     * @param args entries, requests per second
     */
    public static void main(String[] args) {
        final int entries = args.length > 0 ? Integer.parseInt(args[0]) : 10_000_000;
        final int rate = args.length > 1 ? Integer.parseInt(args[1]) : 200_000;
        System.out.printf(Locale.ROOT, "PauseLatency: %,d entries, %,d requests/s, %s%n",
            entries, rate, Runtime.version());
        warmUp(rate);
        rebalance(entries, rate);
        growth(entries, rate);
    }

    /**
     * Runs the measured code paths (reads and writes during a migration, during a growth) on a small map first:
     * without it the first migration of the JVM measures the JIT recompiling branches it had never taken.
     */
    private static void warmUp(int rate) {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 64)) {
            for (long k = 0; k < 200_000; k++) {
                map.putLong(k, k, -1);
            }
            for (int round = 0; round < 6; round++) {
                map.startRebalanceOnline(round % 2 == 0 ? 256 : 64, RebalanceOptions.defaults().background(true)
                    .maxPause(Duration.ofNanos(200_000)));
                run(map, rate, 10, 200_000, 200_000, () -> map.rebalanceStatus().migrating());
            }
        }
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 1)) {
            map.putLong(0, 0, -1);
            run(map, rate, 50, 1, 1_000_000, () -> map.mappingCount() < 1_000_000);
        }
    }

    private static void rebalance(int entries, int rate) {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(64)
                .expectedEntries(entries).build()) {
            for (long k = 0; k < entries; k++) {
                map.putLong(k, k, -1);
            }
            final Phase before = run(map, rate, 10, entries, entries, secondsOf(10));
            map.startRebalanceOnline(256, RebalanceOptions.defaults().background(true)
                .maxPause(Duration.ofNanos(200_000)).batchSize(4096));
            final Phase during = run(map, rate, 10, entries, entries, () -> map.rebalanceStatus().migrating());
            final RebalanceStatus done = map.rebalanceStatus();
            System.out.printf(Locale.ROOT, "%nBackground rebalance 64 -> 256 shards of %,d entries, maxPause 200 µs:"
                + " %,d entries moved in %.1f s; longest lock hold of a step %.3f ms%n", entries, done.movedEntries(),
                during.seconds, done.longestStep().toNanos() / 1e6);
            print(before, during);
        }
    }

    private static void growth(int entries, int rate) {
        final int start = Math.max(1, entries / 10);
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 1)) {
            for (long k = 0; k < start; k++) {
                map.putLong(k, k, -1);
            }
            final Phase before = run(map, rate, 50, start, start, secondsOf(10));
            // Half of the requests now insert new keys until the map holds `entries`: the table grows 3 times.
            final Phase during = run(map, rate, 50, start, entries, () -> map.mappingCount() < entries);
            System.out.printf(Locale.ROOT, "%nGrowth of a single-shard map from %,d to %,d entries (puts insert new keys):"
                + " %.1f s; longest put call (its lock held throughout) %.3f ms%n", start, map.mappingCount(),
                during.seconds, during.longestPutCall / 1e6);
            print(before, during);
        }
    }

    /** Latencies of one phase. */
    private static final class Phase {
        final Histogram gets = new Histogram(MAX_LATENCY_NANOS, 3);
        final Histogram puts = new Histogram(MAX_LATENCY_NANOS, 3);
        /** Longest time one call took from its actual start: the service time, without queueing. */
        long longestPutCall;
        long longestGetCall;
        double seconds;
    }

    /**
     * Issues requests at {@code rate} until {@code running} turns false: gets of present keys, and puts that
     * overwrite present keys, or insert new ones up to {@code insertUpTo} when it is above {@code present}.
     */
    private static Phase run(ShardedHashMap<Long, Long> map, int rate, int putPercent, int present, int insertUpTo,
                             BooleanSupplier running) {
        final Phase phase = new Phase();
        final SplittableRandom rnd = new SplittableRandom(42);
        final long interval = 1_000_000_000L / rate;
        final long start = System.nanoTime();
        long nextInsert = present;
        long i = 0;
        while (running.getAsBoolean()) {
            for (int batch = 0; batch < 1000; batch++, i++) {
                final long due = start + i * interval;
                while (System.nanoTime() < due) {
                    // Yield, not spin: on a machine with few cores a spinning generator would take the processor
                    // from the threads it measures (a writer holding a lock, the rebalance thread).
                    Thread.yield();
                }
                final boolean put = rnd.nextInt(100) < putPercent;
                final long key = rnd.nextLong(Math.max(1, Math.min(nextInsert, present)));
                final long began = System.nanoTime();
                if (put) {
                    map.putLong(nextInsert < insertUpTo ? nextInsert++ : key, key, -1);
                } else if (map.getLong(key, -1) != key) {
                    throw new AssertionError("lost key " + key);
                }
                final long end = System.nanoTime();
                if (put) {
                    phase.longestPutCall = Math.max(phase.longestPutCall, end - began);
                } else {
                    phase.longestGetCall = Math.max(phase.longestGetCall, end - began);
                }
                (put ? phase.puts : phase.gets).recordValue(Math.min(MAX_LATENCY_NANOS, end - due));
            }
        }
        phase.seconds = (System.nanoTime() - start) / 1e9;
        return phase;
    }

    private static BooleanSupplier secondsOf(int seconds) {
        final long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        return () -> System.nanoTime() < end;
    }

    private static void print(Phase before, Phase during) {
        System.out.println("| operation | phase | p50 µs | p99 µs | p99.9 µs | max µs | longest call µs | requests |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|---:|");
        row("get", "before", before.gets, before.longestGetCall);
        row("get", "during", during.gets, during.longestGetCall);
        row("put", "before", before.puts, before.longestPutCall);
        row("put", "during", during.puts, during.longestPutCall);
    }

    private static void row(String op, String phase, Histogram h, long longestCall) {
        System.out.printf(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %,d |%n", op, phase,
            h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3,
            h.getMaxValue() / 1e3, longestCall / 1e3, h.getTotalCount());
    }
}
