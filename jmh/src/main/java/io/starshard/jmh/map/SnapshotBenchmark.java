package io.starshard.jmh.map;

import io.starshard.MapSnapshot;
import io.starshard.ShardedHashMap;
import io.starshard.SnapshotMode;
import io.starshard.SnapshotStats;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
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

/**
 * What a {@code MapSnapshot} costs in each {@code SnapshotMode}, what an open copy-on-write snapshot costs the
 * writers, and how fast a full scan is over the live map, over a snapshot and over a {@code ConcurrentHashMap}:
 * the modes differ only in cost, so choosing one needs these numbers. Every map is {@code long -> long} with 1M
 * entries in {@value #SHARDS} shards and a fixed hash seed, so that every run routes the same keys to the same
 * shards.
 * <ul>
 *   <li>{@link #snapshot}: one snapshot in steady state, per {@code mode}, after writing one present key into
 *       {@code writtenShardsPercent} of the shards (each key in a different shard; any percentage above zero
 *       writes at least one shard). The writes are inside the measured time, and the previous snapshot stays
 *       open while they run and is closed once the new one is taken: a service that snapshots continuously
 *       always has one open, and only then do {@code COW} writers pay the copies that mode moves out of the
 *       snapshot. The snapshot is not read, so {@code COW} pays no copy for a scan either.</li>
 *   <li>{@link #put}: a put of a present key, chosen in a random order, into a {@code COW} map with no snapshot
 *       open ({@code none}) and with one open that holds every shard, each shard already copied once by an
 *       earlier write ({@code held}): whether a write to a shard no snapshot still needs costs more than a write
 *       with no snapshot at all.</li>
 *   <li>{@link #liveIterator}, {@link #snapshotIterator}, {@link #chmIterator}: a full scan summing the values
 *       through {@code entrySet().iterator()} of the live map, of a snapshot taken in setup ({@code CLONE}, so
 *       the scan reads finished copies) and of a {@code ConcurrentHashMap<Long, Long>} with the same entries.</li>
 *   <li>{@link #liveStream}, {@link #liveParallelStream}, {@link #snapshotStream},
 *       {@link #snapshotParallelStream}: the same sum through sequential and parallel streams; a parallel
 *       stream runs in the common fork-join pool, so it gains only as many cores as the machine has.</li>
 * </ul>
 *
 * <p>Run: {@code java -jar jmh/target/benchmarks.jar io.starshard.jmh.map.SnapshotBenchmark -prof gc}. The
 * states check in setup that their keys reach distinct shards, that the snapshot statistics count the copies
 * each mode promises, and that every scan sees every entry, so that a number is never reported for a workload
 * that did not run as described.
 */
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgs = "-Xmx2g")
public class SnapshotBenchmark {
    /** Entries of every map. */
    static final int ENTRIES = 1_000_000;
    /** Shards of every map. */
    static final int SHARDS = 64;
    /** Fixed so that the keys found for each shard in setup route there in the measured map too. */
    static final long HASH_SEED = 0x5eed_5eedL;
    /** Never stored: the maps hold the values {@code 0..ENTRIES-1} and positive counters. */
    static final long MISSING = -1;

    /** JMH instantiates the benchmark class. */
    public SnapshotBenchmark() {
    }

    /** A map of {@link #ENTRIES} entries, key {@code keys[i]} with value {@code i}. */
    static ShardedHashMap<Long, Long> filledMap(SnapshotMode mode, long[] keys) {
        final ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(SHARDS)
            .hashSeed(HASH_SEED).expectedEntries(keys.length).snapshotMode(mode).build();
        for (int i = 0; i < keys.length; i++) {
            map.putLong(keys[i], i, MISSING);
        }
        check(map.mappingCount() == keys.length, "map holds " + map.mappingCount() + " entries, not " + keys.length);
        return map;
    }

    /**
     * For each shard index, one of {@code keys} that routes there. Learnt through the public API: routing depends
     * only on the hash seed and the shard count, so an empty map built with both tells by its
     * {@code perShardLoad()} which shard each put went to.
     */
    static long[] keyPerShard(long[] keys) {
        final long[] chosen = new long[SHARDS];
        final boolean[] found = new boolean[SHARDS];
        int missing = SHARDS;
        try (ShardedHashMap<Long, Long> probe = ShardedHashMap.builder(Long.class, Long.class).shards(SHARDS)
                .hashSeed(HASH_SEED).build()) {
            long[] before = probe.perShardLoad();
            for (int i = 0; missing > 0; i++) {
                check(i < keys.length, "no key of the map routes to " + missing + " of the shards");
                probe.putLong(keys[i], 0, MISSING);
                final long[] after = probe.perShardLoad();
                final int shard = grownShard(before, after);
                if (!found[shard]) {
                    found[shard] = true;
                    chosen[shard] = keys[i];
                    missing--;
                }
                before = after;
            }
        }
        return chosen;
    }

    private static int grownShard(long[] before, long[] after) {
        int grown = -1;
        for (int s = 0; s < after.length; s++) {
            if (after[s] != before[s]) {
                check(grown < 0 && after[s] == before[s] + 1, "one put changed the load of more than one shard");
                grown = s;
            }
        }
        check(grown >= 0, "a put of a new key changed no shard's load");
        return grown;
    }

    static void check(boolean condition, String problem) {
        if (!condition) {
            throw new IllegalStateException(problem);
        }
    }

    /** Closing every snapshot and the map must give back every off-heap byte, copies included. */
    static void checkAllFreed(ShardedHashMap<Long, Long> map) {
        final SnapshotStats stats = map.snapshotStats();
        check(stats.imageBytes() == 0, "snapshot copies still hold " + stats.imageBytes() + " bytes after close: "
            + stats);
        check(map.memoryStats().usedBytes() == 0, "the closed map still uses " + map.memoryStats().usedBytes()
            + " bytes");
    }

    // =========================================================================================================
    // Snapshot cost
    // =========================================================================================================

    /**
     * One thread's map, snapshotted in steady state. Per thread, so that with {@code -t 2} each thread keeps its
     * own last snapshot instead of two threads racing to close the same one.
     */
    @State(Scope.Thread)
    public static class SnapshotState {
        /** How {@code snapshot()} copies. */
        @Param({"CLONE", "CACHED", "COW"})
        public SnapshotMode mode;

        /** Share of the shards written between two snapshots. */
        @Param({"0", "1", "50"})
        public int writtenShardsPercent;

        ShardedHashMap<Long, Long> map;
        long[] shardKeys;
        int writtenShards;
        int nextShard;
        long value = ENTRIES;
        MapSnapshot<Long, Long> previous;

        /** JMH instantiates states. */
        public SnapshotState() {
        }

        /** Loads the map, finds a key per shard, takes the first snapshot and checks what one round copies. */
        @Setup(Level.Trial)
        public void setUp() {
            final long[] keys = Workload.longKeys(ENTRIES);
            map = filledMap(mode, keys);
            shardKeys = keyPerShard(keys);
            writtenShards = writtenShardsPercent == 0 ? 0
                : Math.max(1, Math.round(SHARDS * writtenShardsPercent / 100f));
            previous = map.snapshot();
            // The first snapshot of CACHED fills its cache, so the steady state starts from the second round.
            writeAndSnapshot();
            final SnapshotStats before = map.snapshotStats();
            writeAndSnapshot();
            checkRound(before, map.snapshotStats());
        }

        /** The copies one round must make: otherwise the keys did not reach distinct shards or a mode misbehaves. */
        private void checkRound(SnapshotStats before, SnapshotStats after) {
            final long copies = after.shardCopies() - before.shardCopies();
            final long reused = after.reusedCopies() - before.reusedCopies();
            final long onWrite = after.copiesOnWrite() - before.copiesOnWrite();
            final String round = mode + ", " + writtenShards + " shards written: " + copies + " copies, " + reused
                + " reused, " + onWrite + " on write; before " + before + ", after " + after;
            switch (mode) {
                case CLONE:
                    check(copies == SHARDS && reused == 0 && onWrite == 0, round);
                    break;
                case CACHED:
                    check(copies == writtenShards && reused == SHARDS - writtenShards && onWrite == 0, round);
                    break;
                case COW:
                    check(copies == writtenShards && reused == 0 && onWrite == writtenShards, round);
                    break;
                default:
                    throw new IllegalStateException("unknown mode " + mode);
            }
        }

        /**
         * Writes the next {@code writtenShards} shards, one key each, then replaces the open snapshot by a new
         * one. The written shards rotate, so that over a trial every shard is written alike.
         */
        long writeAndSnapshot() {
            for (int i = 0; i < writtenShards; i++) {
                map.putLong(shardKeys[nextShard], ++value, MISSING);
                nextShard = nextShard + 1 == SHARDS ? 0 : nextShard + 1;
            }
            final MapSnapshot<Long, Long> taken = map.snapshot();
            previous.close();
            previous = taken;
            return taken.version();
        }

        /** Closes the last snapshot and the map, and checks that both gave their memory back. */
        @TearDown(Level.Trial)
        public void tearDown() {
            previous.close();
            map.close();
            checkAllFreed(map);
        }
    }

    /**
     * Writes one key into each of {@code writtenShardsPercent} of the shards and takes a snapshot, closing the
     * previous one.
     *
     * @param state this thread's map and its open snapshot
     * @return the new snapshot's version
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public long snapshot(SnapshotState state) {
        return state.writeAndSnapshot();
    }

    // =========================================================================================================
    // Writes beside an open COW snapshot
    // =========================================================================================================

    /** A {@code COW} map shared by the writing threads, with or without a snapshot open. */
    @State(Scope.Benchmark)
    public static class WriteState {
        /** {@code none}: no snapshot was ever taken; {@code held}: one is open, every shard already copied. */
        @Param({"none", "held"})
        public String openSnapshot;

        ShardedHashMap<Long, Long> map;
        MapSnapshot<Long, Long> held;
        long[] keys;
        int[] order;

        /** JMH instantiates states. */
        public WriteState() {
        }

        /** Loads the map; for {@code held}, takes the snapshot and lets one write per shard make its copy. */
        @Setup(Level.Trial)
        public void setUp() {
            keys = Workload.longKeys(ENTRIES);
            order = Workload.permutation(ENTRIES, 7);
            map = filledMap(SnapshotMode.COW, keys);
            switch (openSnapshot) {
                case "none":
                    break;
                case "held":
                    held = map.snapshot();
                    final long[] shardKeys = keyPerShard(keys);
                    for (long key : shardKeys) {
                        map.putLong(key, -2, MISSING);
                    }
                    final SnapshotStats stats = map.snapshotStats();
                    check(stats.copiesOnWrite() == SHARDS, "writing every shard once under a COW snapshot made "
                        + stats.copiesOnWrite() + " copies on write, not " + SHARDS + ": " + stats);
                    // The snapshot must still show what the overwritten keys held when it was taken.
                    final Long seen = held.get(shardKeys[0]);
                    check(seen != null && seen != -2L && held.mappingCount() == ENTRIES,
                        "the held snapshot shows a later write: " + seen);
                    break;
                default:
                    throw new IllegalArgumentException("unknown openSnapshot " + openSnapshot);
            }
        }

        /** Closes the snapshot and the map, and checks that both gave their memory back. */
        @TearDown(Level.Trial)
        public void tearDown() {
            if (held != null) {
                held.close();
            }
            map.close();
            checkAllFreed(map);
        }
    }

    /** One writing thread's place in the shared random order of the keys. */
    @State(Scope.Thread)
    public static class WriteCursor {
        int position;
        long value = ENTRIES;

        /** JMH instantiates states. */
        public WriteCursor() {
        }

        /**
         * Starts each thread at a different place of the order.
         *
         * @param thread JMH's thread parameters
         */
        @Setup(Level.Trial)
        public void setUp(ThreadParams thread) {
            position = thread.getThreadIndex() * (ENTRIES / Math.max(1, thread.getThreadCount()));
        }

        int next() {
            final int p = position + 1 == ENTRIES ? 0 : position + 1;
            position = p;
            return p;
        }
    }

    /**
     * Overwrites the value of a present key with {@code putLong}.
     *
     * @param state  the shared map
     * @param cursor this thread's place in the key order
     * @return the previous value
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long put(WriteState state, WriteCursor cursor) {
        return state.map.putLong(state.keys[state.order[cursor.next()]], ++cursor.value, MISSING);
    }

    // =========================================================================================================
    // Full scans
    // =========================================================================================================

    /** The live map, a snapshot of it and a {@code ConcurrentHashMap} with the same entries, all read-only. */
    @State(Scope.Benchmark)
    public static class ScanState {
        ShardedHashMap<Long, Long> map;
        MapSnapshot<Long, Long> snapshot;
        ConcurrentHashMap<Long, Long> chm;

        /** JMH instantiates states. */
        public ScanState() {
        }

        /** Loads the maps, takes the snapshot and checks that every way of scanning sees every entry once. */
        @Setup(Level.Trial)
        public void setUp() {
            final long[] keys = Workload.longKeys(ENTRIES);
            map = filledMap(SnapshotMode.CLONE, keys);
            snapshot = map.snapshot();
            chm = new ConcurrentHashMap<>(ENTRIES * 2);
            for (int i = 0; i < ENTRIES; i++) {
                chm.put(keys[i], (long) i);
            }
            final long expected = (long) ENTRIES * (ENTRIES - 1) / 2;
            checkSum("live iterator", sum(map.entrySet().iterator()), expected);
            checkSum("snapshot iterator", sum(snapshot.entrySet().iterator()), expected);
            checkSum("ConcurrentHashMap iterator", sum(chm.entrySet().iterator()), expected);
            checkSum("live stream", sum(map.entrySet().stream()), expected);
            checkSum("live parallel stream", sum(map.entrySet().parallelStream()), expected);
            checkSum("snapshot stream", sum(snapshot.stream()), expected);
            checkSum("snapshot parallel stream", sum(snapshot.parallelStream()), expected);
            check(map.entrySet().parallelStream().count() == ENTRIES, "the live parallel stream's count is wrong");
            check(snapshot.parallelStream().count() == ENTRIES, "the snapshot parallel stream's count is wrong");
        }

        private static void checkSum(String scan, long sum, long expected) {
            check(sum == expected, "the " + scan + " sums the values to " + sum + ", not " + expected);
        }

        /** Closes the snapshot and the map, and checks that both gave their memory back. */
        @TearDown(Level.Trial)
        public void tearDown() {
            snapshot.close();
            map.close();
            checkAllFreed(map);
        }
    }

    static long sum(Iterator<Map.Entry<Long, Long>> entries) {
        long sum = 0;
        while (entries.hasNext()) {
            sum += entries.next().getValue();
        }
        return sum;
    }

    static long sum(Stream<Map.Entry<Long, Long>> entries) {
        return entries.mapToLong(Map.Entry::getValue).sum();
    }

    /**
     * Sums the values of the live map through its entry iterator.
     *
     * @param state the maps
     * @return the sum
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long liveIterator(ScanState state) {
        return sum(state.map.entrySet().iterator());
    }

    /**
     * Sums the values of the snapshot through its entry iterator.
     *
     * @param state the maps
     * @return the sum
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long snapshotIterator(ScanState state) {
        return sum(state.snapshot.entrySet().iterator());
    }

    /**
     * Sums the values of the {@code ConcurrentHashMap} through its entry iterator.
     *
     * @param state the maps
     * @return the sum
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long chmIterator(ScanState state) {
        return sum(state.chm.entrySet().iterator());
    }

    /**
     * Sums the values of the live map through a sequential stream.
     *
     * @param state the maps
     * @return the sum
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long liveStream(ScanState state) {
        return sum(state.map.entrySet().stream());
    }

    /**
     * Sums the values of the live map through a parallel stream.
     *
     * @param state the maps
     * @return the sum
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long liveParallelStream(ScanState state) {
        return sum(state.map.entrySet().parallelStream());
    }

    /**
     * Sums the values of the snapshot through a sequential stream.
     *
     * @param state the maps
     * @return the sum
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long snapshotStream(ScanState state) {
        return sum(state.snapshot.stream());
    }

    /**
     * Sums the values of the snapshot through a parallel stream.
     *
     * @param state the maps
     * @return the sum
     */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    public long snapshotParallelStream(ScanState state) {
        return sum(state.snapshot.parallelStream());
    }
}
