package io.starshard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongFunction;

import static io.starshard.StressSupport.THREADS;
import static io.starshard.StressSupport.Workers;
import static io.starshard.StressSupport.bytesValue;
import static io.starshard.StressSupport.checkBytesValue;
import static io.starshard.StressSupport.checkLongValue;
import static io.starshard.StressSupport.longValue;
import static io.starshard.StressSupport.stringKey;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Concurrency of a live map: no lost update, exactly one winner per racing insert, and readers that never see a
 * torn or foreign value, while segments grow and rebuild underneath.
 *
 * <p>Each scenario runs with 1 shard (every thread on one lock and one table: maximum contention, and every
 * growth retires the table all readers use) and with 64 shards. Maps start with the smallest tables, so growth
 * happens during the run. Default: about a third of a second per scenario (the free race: 0.5 s and 2 s), about
 * 7 s in all; {@code -Pstress} shares {@code starshard.concurrency.seconds} (default 180) between the scenarios.
 */
class ConcurrencyTest {
    /** Timed scenarios in this class (4 counter runs, 2 insert races, 6 torn-read runs): share the stress time. */
    private static final int PHASES = 12;
    private static final long PHASE_MILLIS = StressSupport.phaseMillis(PHASES, 300);

    /** Keys every thread increments: contention on the same entries. */
    private static final int HOT_KEYS = 64;
    /** Keys only one thread increments, inserted progressively: growth during the run. */
    private static final int OWN_KEYS = 20_000;
    private static final long OWN_BASE = 1_000_000L;

    // =========================================================================================================
    // 1. Increments: no lost update
    // =========================================================================================================

    @ParameterizedTest(name = "shards={0}")
    @ValueSource(ints = {1, 64})
    void longCountersLoseNoUpdate(int shards) throws Exception {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(shards).build()) {
            runCounters("Long->Long", map, Long::valueOf, 4, shards);
        }
    }

    @ParameterizedTest(name = "shards={0}")
    @ValueSource(ints = {1, 64})
    void stringCountersLoseNoUpdate(int shards) throws Exception {
        try (ShardedHashMap<String, Long> map = ShardedHashMap.builder(String.class, Long.class).shards(shards).build()) {
            runCounters("String->Long", map, StressSupport::stringKey, 3, shards);
        }
    }

    /**
     * Every writer increments hot keys (shared) and its own keys (disjoint) by 1, choosing per increment between
     * {@code compute}, {@code merge}, a {@code replace(k, old, new)} CAS loop and (long maps) {@code addAndGetLong};
     * it counts its increments per key. A reader checks that no value it reads ever goes backwards. At the end every
     * key's value must be the sum of the counts.
     */
    private static <K> void runCounters(String label, ShardedHashMap<K, Long> map, LongFunction<K> keyOf, int ops,
                                        int shards) throws Exception {
        final int writers = THREADS;
        final long[][] hot = new long[writers][HOT_KEYS];
        final long[][] own = new long[writers][OWN_KEYS];
        final LongAdder reads = new LongAdder();
        final Workers w = new Workers("counters");
        final long deadline = System.nanoTime() + PHASE_MILLIS * 1_000_000L;
        for (int t = 0; t < writers; t++) {
            final int thread = t;
            w.add("writer", () -> {
                final SplittableRandom rnd = new SplittableRandom(thread * 7919L + 1);
                final long[] myHot = hot[thread];
                final long[] myOwn = own[thread];
                for (long i = 0; !w.stop && ((i & 255) != 0 || System.nanoTime() < deadline); i++) {
                    final boolean shared = (i & 1) == 0;
                    final int index = shared ? rnd.nextInt(HOT_KEYS) : (int) ((i >>> 1) % OWN_KEYS);
                    final long id = shared ? index : OWN_BASE * (thread + 1) + index;
                    increment(map, keyOf.apply(id), id, rnd.nextInt(ops));
                    if (shared) {
                        myHot[index]++;
                    } else {
                        myOwn[index]++;
                    }
                }
            });
        }
        w.add("reader", () -> {
            final long[] lastHot = new long[HOT_KEYS];
            final long[] lastOwn = new long[OWN_KEYS];
            final SplittableRandom rnd = new SplittableRandom(42);
            while (!w.stop && System.nanoTime() < deadline) {
                final boolean shared = rnd.nextBoolean();
                final int index = shared ? rnd.nextInt(HOT_KEYS) : rnd.nextInt(OWN_KEYS);
                final long id = shared ? index : OWN_BASE + index;   // writer 0's own keys
                final long value;
                if (ops == 4 && rnd.nextBoolean()) {
                    value = map.getLong(id, 0);
                } else {
                    final Long boxed = map.get(keyOf.apply(id));
                    value = boxed == null ? 0 : boxed;
                }
                final long[] last = shared ? lastHot : lastOwn;
                if (value < last[index]) {
                    throw new AssertionError(label + ": counter " + id + " went back from " + last[index] + " to "
                        + value + " (lost update or stale read)");
                }
                last[index] = value;
                reads.increment();
            }
        });
        w.start();
        w.joinAndCheck();

        long total = 0;
        long keys = 0;
        for (int k = 0; k < HOT_KEYS; k++) {
            long expected = 0;
            for (int t = 0; t < writers; t++) {
                expected += hot[t][k];
            }
            total += expected;
            keys += expected > 0 ? 1 : 0;
            assertEquals(expected, value(map, keyOf.apply(k)), label + ": hot key " + k + " lost an update");
        }
        for (int t = 0; t < writers; t++) {
            for (int k = 0; k < OWN_KEYS; k++) {
                final long expected = own[t][k];
                total += expected;
                keys += expected > 0 ? 1 : 0;
                assertEquals(expected, value(map, keyOf.apply(OWN_BASE * (t + 1) + k)),
                    label + ": own key " + k + " of writer " + t + " lost an update");
            }
        }
        assertEquals(keys, map.size(), label + ": size");
        long iterated = 0;
        for (Map.Entry<K, Long> e : map.entrySet()) {
            iterated += e.getValue();
        }
        assertEquals(total, iterated, label + ": sum over the iteration");
        assertGrew(map);
        System.out.printf("ConcurrencyTest counters %s shards=%d: %d writers, %d increments, %d keys, %d reads,"
            + " table bytes %d%n", label, shards, writers, total, keys, reads.sum(), map.memoryStats().tableBytes());
    }

    private static <K> long value(ShardedHashMap<K, Long> map, K key) {
        final Long v = map.get(key);
        return v == null ? 0 : v;
    }

    private static <K> void increment(ShardedHashMap<K, Long> map, K key, long id, int op) {
        switch (op) {
            case 0 -> map.compute(key, (k, v) -> v == null ? 1L : v + 1);
            case 1 -> map.merge(key, 1L, Long::sum);
            case 2 -> {
                while (true) {
                    final Long current = map.get(key);
                    if (current == null ? map.putIfAbsent(key, 1L) == null : map.replace(key, current, current + 1)) {
                        break;
                    }
                }
            }
            default -> map.addAndGetLong(id, 1);
        }
    }

    // =========================================================================================================
    // 2. Racing inserts: exactly one winner per key
    // =========================================================================================================

    /** Keys raced for in one round. */
    private static final int RACE_KEYS = 256;

    /**
     * All threads insert the same fresh keys (each starting at a different point), round after round, alternating
     * {@code putIfAbsent} on a {@code String -> byte[]} map, {@code putIfAbsent} and {@code computeIfAbsent} on a
     * {@code Long -> Long} map. Per key exactly one call may win (return null / run its function), and every other
     * call must return the winner's value.
     */
    @ParameterizedTest(name = "shards={0}")
    @ValueSource(ints = {1, 64})
    void racingInsertsHaveExactlyOneWinner(int shards) throws Exception {
        try (ShardedHashMap<String, byte[]> bytes = ShardedHashMap.builder(String.class, byte[].class)
                 .shards(shards).build();
             ShardedHashMap<Long, Long> longs = ShardedHashMap.builder(Long.class, Long.class).shards(shards).build()) {
            final int threads = THREADS;
            // seen[t][k]: the writer whose value thread t got back for key k of the round, or -1 if t won
            final int[][] seen = new int[threads][RACE_KEYS];
            final AtomicIntegerArray calls = new AtomicIntegerArray(RACE_KEYS);
            final AtomicReference<Throwable> verifyFailure = new AtomicReference<>();
            final long deadline = System.nanoTime() + PHASE_MILLIS * 1_000_000L;
            final int[] round = {-1};
            final long[] expectedSize = new long[2];
            final boolean[] done = {false};
            final CyclicBarrier barrier = new CyclicBarrier(threads, () -> {
                try {
                    if (round[0] >= 0) {
                        verifyRound(round[0], seen, calls, bytes, longs, expectedSize);
                    }
                } catch (Throwable e) {
                    verifyFailure.compareAndSet(null, e);
                }
                for (int k = 0; k < RACE_KEYS; k++) {
                    calls.set(k, 0);
                }
                round[0]++;
                done[0] = verifyFailure.get() != null || System.nanoTime() > deadline;
            });
            final Workers w = new Workers("insert-race");
            for (int t = 0; t < threads; t++) {
                final int thread = t;
                w.add("racer", () -> {
                    try {
                        while (true) {
                            barrier.await(StressSupport.JOIN_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
                            if (done[0] || w.stop) {   // written by the barrier action, read after the barrier
                                return;
                            }
                            raceRound(round[0], thread, seen[thread], calls, bytes, longs);
                        }
                    } catch (Throwable e) {
                        w.fail(e);        // recorded before the others see the barrier broken
                        barrier.reset();
                        throw e;
                    }
                });
            }
            w.start();
            try {
                w.joinAndCheck();
            } catch (AssertionError e) {
                if (e.getCause() instanceof BrokenBarrierException && verifyFailure.get() != null) {
                    throw new AssertionError(verifyFailure.get());
                }
                throw e;
            }
            if (verifyFailure.get() != null) {
                throw new AssertionError("round verification failed: " + verifyFailure.get(), verifyFailure.get());
            }
            assertTrue(round[0] >= 1, "at least one complete round");
            System.out.printf("ConcurrencyTest insert race shards=%d: %d threads, %d rounds x %d keys, sizes %d/%d%n",
                shards, threads, round[0], RACE_KEYS, bytes.size(), longs.size());
        }
    }

    private static long raceId(int round, int k) {
        return (long) round * RACE_KEYS + k;
    }

    private static void raceRound(int round, int thread, int[] seen, AtomicIntegerArray calls,
                                  ShardedHashMap<String, byte[]> bytes, ShardedHashMap<Long, Long> longs) {
        final int start = thread * RACE_KEYS / THREADS;
        for (int j = 0; j < RACE_KEYS; j++) {
            final int k = (start + j) % RACE_KEYS;
            final long id = raceId(round, k);
            final int writer;
            switch (round % 3) {
                case 0 -> {
                    final String key = stringKey(id);
                    final byte[] previous = bytes.putIfAbsent(key, bytesValue(key, thread, false));
                    writer = previous == null ? -1 : (int) checkBytesValue(key, previous);
                }
                case 1 -> {
                    final Long previous = longs.putIfAbsent(id, longValue(id, thread));
                    writer = previous == null ? -1 : (int) checkLongValue(id, previous);
                }
                default -> {
                    final boolean[] ran = {false};
                    final Long value = longs.computeIfAbsent(id, key -> {
                        calls.incrementAndGet(k);
                        ran[0] = true;
                        return longValue(id, thread);
                    });
                    final int owner = (int) checkLongValue(id, value);
                    if (ran[0] && owner != thread) {
                        throw new AssertionError("computeIfAbsent returned another thread's value after running");
                    }
                    writer = ran[0] ? -1 : owner;
                }
            }
            seen[k] = writer;
        }
    }

    private static void verifyRound(int round, int[][] seen, AtomicIntegerArray calls,
                                    ShardedHashMap<String, byte[]> bytes, ShardedHashMap<Long, Long> longs,
                                    long[] expectedSize) {
        for (int k = 0; k < RACE_KEYS; k++) {
            final long id = raceId(round, k);
            int winner = -1;
            for (int t = 0; t < seen.length; t++) {
                if (seen[t][k] == -1) {
                    if (winner != -1) {
                        throw new AssertionError("round " + round + " key " + id + ": threads " + winner + " and " + t
                            + " both won");
                    }
                    winner = t;
                }
            }
            if (winner == -1) {
                throw new AssertionError("round " + round + " key " + id + ": nobody won");
            }
            for (int t = 0; t < seen.length; t++) {
                if (t != winner && seen[t][k] != winner) {
                    throw new AssertionError("round " + round + " key " + id + ": thread " + t + " got the value of "
                        + seen[t][k] + " but " + winner + " won");
                }
            }
            final long stored = round % 3 == 0 ? checkBytesValue(stringKey(id), bytes.get(stringKey(id)))
                : checkLongValue(id, longs.get(id));
            assertEquals(winner, stored, "round " + round + " key " + id + ": stored value is not the winner's");
            if (round % 3 == 2) {
                assertEquals(1, calls.get(k), "round " + round + " key " + id + ": computeIfAbsent function runs");
            }
        }
        expectedSize[round % 3 == 0 ? 0 : 1] += RACE_KEYS;
        assertEquals(expectedSize[0], bytes.size(), "String -> byte[] size after round " + round);
        assertEquals(expectedSize[1], longs.size(), "Long -> Long size after round " + round);
    }

    // =========================================================================================================
    // 3. Readers never see a torn or foreign value
    // =========================================================================================================

    /** Keys the churning writers work on. */
    private static final int POOL = 2048;
    /** Fresh keys the growing writer keeps alive at once (then removes the oldest: tombstones and rebuilds). */
    private static final int WINDOW = 30_000;
    private static final long GROW_BASE = 10_000_000L;

    /**
     * Writers put, replace, compute, merge, remove and re-insert self-checking values (of varying size, some above
     * 16 KiB) on a pool of keys while one writer inserts ever new keys (the table grows, then rebuilds as it
     * removes old ones). Readers validate every value they see through {@code get}, iteration of the three views
     * and {@code forEach}.
     */
    @ParameterizedTest(name = "shards={0}")
    @ValueSource(ints = {1, 64})
    void readersNeverSeeTornOrForeignBytes(int shards) throws Exception {
        final Counts counts = new Counts();
        final long deadline = System.nanoTime() + PHASE_MILLIS * 1_000_000L;
        int maps = 0;
        do {   // a new map per slice, so that every slice starts small and grows
            try (ShardedHashMap<String, byte[]> map = ShardedHashMap.builder(String.class, byte[].class)
                     .shards(shards).build()) {
                final long sliceEnd = sliceEnd(deadline);
                runBytes(map, sliceEnd, counts);
                maps++;
            }
        } while (System.nanoTime() < deadline);
        counts.print("bytes", shards, maps);
    }

    /** End of one map's slice: the whole phase by default, 2 s under stress (then a fresh map grows again). */
    private static long sliceEnd(long deadline) {
        final long now = System.nanoTime();
        return StressSupport.STRESS && deadline - now > 2_000_000_000L ? now + 2_000_000_000L : deadline;
    }

    /** Operation counters of the torn-read scenarios, for the report. */
    private static final class Counts {
        final LongAdder writes = new LongAdder();
        final LongAdder reads = new LongAdder();
        final LongAdder validated = new LongAdder();
        final LongAdder iterations = new LongAdder();

        void print(String label, int shards, int maps) {
            System.out.printf("ConcurrencyTest torn-read %s shards=%d: %d maps, %d writes, %d reads, %d values"
                + " validated, %d full iterations%n", label, shards, maps, writes.sum(), reads.sum(), validated.sum(),
                iterations.sum());
        }
    }

    private static void runBytes(ShardedHashMap<String, byte[]> map, long deadline, Counts counts) throws Exception {
        final Workers w = new Workers("torn-bytes");
        final int writers = Math.max(1, THREADS / 2);
        final AtomicLong grown = new AtomicLong();   // highest fresh id inserted: where readers look
        w.add("grower", () -> {
            for (long n = 0; !w.stop && ((n & 63) != 0 || System.nanoTime() < deadline); n++) {
                final String key = stringKey(GROW_BASE + n);
                assertNull(map.put(key, bytesValue(key, n, false)), "fresh key was present");
                if (n >= WINDOW) {
                    final String old = stringKey(GROW_BASE + n - WINDOW);
                    checkBytesValue(old, map.remove(old));
                }
                grown.lazySet(n);
                counts.writes.increment();
            }
        });
        for (int t = 1; t < writers; t++) {
            final int thread = t;
            w.add("writer", () -> {
                final SplittableRandom rnd = new SplittableRandom(thread);
                for (long i = 0; !w.stop && ((i & 63) != 0 || System.nanoTime() < deadline); i++) {
                    churnBytes(map, rnd, i * writers + thread);
                    counts.writes.increment();
                }
            });
        }
        for (int t = writers; t < THREADS - 1; t++) {
            final int thread = t;
            w.add("reader", () -> {
                final SplittableRandom rnd = new SplittableRandom(thread);
                while (!w.stop && System.nanoTime() < deadline) {
                    final long id = rnd.nextBoolean() ? rnd.nextInt(POOL) : GROW_BASE + rnd.nextLong(grown.get() + 1);
                    final String key = stringKey(id);
                    final byte[] v = map.get(key);
                    if (v != null) {
                        checkBytesValue(key, v);
                        counts.validated.increment();
                    }
                    counts.reads.increment();
                }
            });
        }
        w.add("iterator", () -> {
            for (int pass = 0; !w.stop && System.nanoTime() < deadline; pass++) {
                switch (pass % 3) {
                    case 0 -> {
                        for (Map.Entry<String, byte[]> e : map.entrySet()) {
                            checkBytesValue(e.getKey(), e.getValue());
                            counts.validated.increment();
                        }
                    }
                    case 1 -> map.forEach((k, v) -> {
                        checkBytesValue(k, v);
                        counts.validated.increment();
                    });
                    default -> {
                        for (byte[] v : map.values()) {
                            checkBytesValue(null, v);
                            counts.validated.increment();
                        }
                    }
                }
                counts.iterations.increment();
            }
        });
        w.start();
        w.joinAndCheck();
        assertGrew(map);
    }

    /**
     * Guards the premise "growth happened during the run": first tables hold 8 slots (136 bytes) per shard, so
     * 32 KiB of tables (about 2,000 live entries) means they were rebuilt larger while the workers ran.
     */
    private static void assertGrew(ShardedHashMap<?, ?> map) {
        final long tableBytes = map.memoryStats().tableBytes();
        assertTrue(tableBytes >= 32 * 1024, "tables did not grow during the run: " + tableBytes + " bytes");
    }

    /** Keys of the free-race scenario: few, so that readers are always on an entry a writer is freeing. */
    private static final int FREE_RACE_KEYS = 8;

    /**
     * The sharpest race of the read protocol: an optimistic reader checks an entry's header, and a writer frees the
     * block (its first 8 bytes become a free-list link) or reuses it for another entry before the reader copies
     * the value. Writers remove and re-insert a handful of keys as fast as they can, with values of changing size
     * (so blocks also move between size classes); readers {@code get} the same keys and validate every value. A
     * reader that trusted a re-read header would copy with a foreign length: an exception, a garbage value, or a
     * fault outside the chunk.
     */
    @ParameterizedTest(name = "shards={0}")
    @ValueSource(ints = {1, 64})
    void readersRacingFreesSeeOnlyWholeValues(int shards) throws Exception {
        final Counts counts = new Counts();
        // Longer than the other scenarios by default: the race window is a few instructions wide, and widest with
        // many shards (writers of different keys free blocks in parallel instead of queueing on one lock).
        final long deadline = System.nanoTime() + Math.max(PHASE_MILLIS, shards == 1 ? 500 : 2000) * 1_000_000L;
        try (ShardedHashMap<String, byte[]> map = ShardedHashMap.builder(String.class, byte[].class)
                 .shards(shards).build()) {
            final String[] keys = new String[FREE_RACE_KEYS];
            final byte[][][] values = new byte[FREE_RACE_KEYS][16][];
            for (int k = 0; k < FREE_RACE_KEYS; k++) {
                keys[k] = stringKey(k);
                for (int v = 0; v < values[k].length; v++) {
                    values[k][v] = bytesValue(keys[k], v, false);
                }
            }
            final Workers w = new Workers("free-race");
            final int writers = Math.max(1, THREADS / 2);
            for (int t = 0; t < writers; t++) {
                final int thread = t;
                w.add("writer", () -> {
                    final SplittableRandom rnd = new SplittableRandom(thread);
                    for (long i = 0; !w.stop && ((i & 1023) != 0 || System.nanoTime() < deadline); i++) {
                        final int k = rnd.nextInt(FREE_RACE_KEYS);
                        final byte[][] versions = values[k];
                        switch (rnd.nextInt(3)) {
                            case 0 -> check(keys[k], map.remove(keys[k]));
                            case 1 -> map.set(keys[k], versions[rnd.nextInt(versions.length)]);
                            default -> map.computeIfPresent(keys[k],
                                (key, old) -> versions[rnd.nextInt(versions.length)]);
                        }
                        counts.writes.increment();
                    }
                });
            }
            for (int t = writers; t < THREADS; t++) {
                final int thread = t;
                w.add("reader", () -> {
                    final SplittableRandom rnd = new SplittableRandom(thread);
                    for (long i = 0; !w.stop && ((i & 1023) != 0 || System.nanoTime() < deadline); i++) {
                        final int k = rnd.nextInt(FREE_RACE_KEYS);
                        final byte[] v = map.get(keys[k]);
                        if (v != null) {
                            StressSupport.checkKnownValue(keys[k], v, values[k]);
                            counts.validated.increment();
                        }
                        counts.reads.increment();
                    }
                });
            }
            w.start();
            w.joinAndCheck();
        }
        counts.print("free-race", shards, 1);
    }

    private static void churnBytes(ShardedHashMap<String, byte[]> map, SplittableRandom rnd, long version) {
        final String key = stringKey(rnd.nextInt(POOL));
        final boolean large = rnd.nextInt(64) == 0;
        final int op = rnd.nextInt(100);
        if (op < 25) {
            check(key, map.put(key, bytesValue(key, version, large)));
        } else if (op < 40) {
            final boolean delete = rnd.nextInt(4) == 0;
            map.compute(key, (k, old) -> {
                check(k, old);
                return delete ? null : bytesValue(k, version, large);
            });
        } else if (op < 50) {
            map.merge(key, bytesValue(key, version, large), (old, given) -> {
                checkBytesValue(key, old);
                return given;
            });
        } else if (op < 60) {
            check(key, map.replace(key, bytesValue(key, version, large)));
        } else if (op < 70) {
            check(key, map.putIfAbsent(key, bytesValue(key, version, large)));
        } else if (op < 85) {
            check(key, map.remove(key));
        } else if (op < 92) {
            map.computeIfPresent(key, (k, old) -> {
                checkBytesValue(k, old);
                return bytesValue(k, version, false);
            });
        } else {
            check(key, map.remove(key));
            check(key, map.put(key, bytesValue(key, version, large)));
        }
    }

    private static void check(String key, byte[] valueOrNull) {
        if (valueOrNull != null) {
            checkBytesValue(key, valueOrNull);
        }
    }

    /**
     * As {@link #readersNeverSeeTornOrForeignBytes} for an inline {@code Long -> Long} map, whose values name their
     * key in their low 24 bits; readers use {@code getLong}, {@code getLongs}, {@code get}, {@code containsLong},
     * iteration and {@code forEach}.
     */
    @ParameterizedTest(name = "shards={0}")
    @ValueSource(ints = {1, 64})
    void readersNeverSeeTornOrForeignLongs(int shards) throws Exception {
        final Counts counts = new Counts();
        final long deadline = System.nanoTime() + PHASE_MILLIS * 1_000_000L;
        int maps = 0;
        do {
            try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(shards).build()) {
                final long sliceEnd = sliceEnd(deadline);
                runLongs(map, sliceEnd, counts);
                maps++;
            }
        } while (System.nanoTime() < deadline);
        counts.print("longs", shards, maps);
    }

    private static void runLongs(ShardedHashMap<Long, Long> map, long deadline, Counts counts) throws Exception {
        final Workers w = new Workers("torn-longs");
        final int writers = Math.max(1, THREADS / 2);
        final AtomicLong grown = new AtomicLong();
        w.add("grower", () -> {
            for (long n = 0; !w.stop && ((n & 255) != 0 || System.nanoTime() < deadline); n++) {
                final long id = GROW_BASE + n;
                assertEquals(-1L, map.putLong(id, longValue(id, n), -1L), "fresh key was present");
                if (n >= WINDOW * 4L) {
                    final long old = id - WINDOW * 4L;
                    checkLongValue(old, map.removeLong(old, -1L));
                }
                grown.lazySet(n);
                counts.writes.increment();
            }
        });
        for (int t = 1; t < writers; t++) {
            final int thread = t;
            w.add("writer", () -> {
                final SplittableRandom rnd = new SplittableRandom(thread);
                for (long i = 0; !w.stop && ((i & 255) != 0 || System.nanoTime() < deadline); i++) {
                    churnLongs(map, rnd, i);
                    counts.writes.increment();
                }
            });
        }
        for (int t = writers; t < THREADS - 1; t++) {
            final int thread = t;
            w.add("reader", () -> {
                final SplittableRandom rnd = new SplittableRandom(thread);
                final long[] batchIds = new long[100];   // more than one read section of getLongs
                final long[] batchValues = new long[batchIds.length];
                for (long i = 0; !w.stop && ((i & 255) != 0 || System.nanoTime() < deadline); i++) {
                    final long id = rnd.nextBoolean() ? rnd.nextInt(POOL) : GROW_BASE + rnd.nextLong(grown.get() + 1);
                    switch ((int) (i % 4)) {
                        case 0 -> {
                            final long v = map.getLong(id, -1L);
                            if (v != -1L) {
                                checkLongValue(id, v);
                                counts.validated.increment();
                            }
                        }
                        case 1 -> {
                            final Long v = map.get(id);
                            if (v != null) {
                                checkLongValue(id, v);
                                counts.validated.increment();
                            }
                        }
                        case 2 -> map.containsLong(id);
                        default -> {
                            for (int b = 0; b < batchIds.length; b++) {
                                batchIds[b] = b % 2 == 0 ? rnd.nextInt(POOL) : GROW_BASE + rnd.nextLong(grown.get() + 1);
                            }
                            map.getLongs(batchIds, batchValues, 0, batchIds.length, -1L);
                            for (int b = 0; b < batchIds.length; b++) {
                                if (batchValues[b] != -1L) {
                                    checkLongValue(batchIds[b], batchValues[b]);
                                    counts.validated.increment();
                                }
                            }
                        }
                    }
                    counts.reads.increment();
                }
            });
        }
        w.add("iterator", () -> {
            for (int pass = 0; !w.stop && System.nanoTime() < deadline; pass++) {
                if (pass % 2 == 0) {
                    for (Map.Entry<Long, Long> e : map.entrySet()) {
                        checkLongValue(e.getKey(), e.getValue());
                        counts.validated.increment();
                    }
                } else {
                    map.forEach((k, v) -> {
                        checkLongValue(k, v);
                        counts.validated.increment();
                    });
                }
                counts.iterations.increment();
            }
        });
        w.start();
        w.joinAndCheck();
        assertGrew(map);
    }

    /**
     * A batched read that meets a shard held by a writer reads that key under the read lock, after the writer,
     * and every other key optimistically: the fallback of {@code getLongs}, made deterministic with a compute
     * function that holds the only shard's write lock until the reader is parked on it.
     */
    @Test
    void getLongsReadsAHeldShardAfterItsWriter() throws Exception {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(1).build()) {
            for (long k = 0; k < 100; k++) {
                map.putLong(k, k, -1L);
            }
            final CountDownLatch locked = new CountDownLatch(1);
            final CountDownLatch release = new CountDownLatch(1);
            final Thread writer = new Thread(() -> map.compute(50L, (k, v) -> {
                locked.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return 5_000L;
            }), "held-writer");
            writer.start();
            assertTrue(locked.await(10, TimeUnit.SECONDS), "the writer never took the lock");
            final long[] keys = new long[100];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = 99 - i;
            }
            final long[] values = new long[keys.length];
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final Thread reader = new Thread(() -> {
                try {
                    map.getLongs(keys, values, 0, keys.length, -1L);
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, "batch-reader");
            final boolean finishedEarly;
            try {
                reader.start();
                while (reader.getState() != Thread.State.WAITING && reader.isAlive()) {
                    Thread.onSpinWait();   // parked on the read lock: the first key is already on the fallback
                }
                finishedEarly = !reader.isAlive();
            } finally {
                release.countDown();   // also on failure: close() below would wait for the writer's lock
            }
            writer.join(10_000);
            reader.join(10_000);
            assertFalse(finishedEarly, "the batch finished while the only shard was write-locked");
            assertFalse(reader.isAlive() || writer.isAlive(), "a thread did not finish");
            assertNull(failure.get());
            final long[] expected = new long[keys.length];
            for (int i = 0; i < keys.length; i++) {
                expected[i] = keys[i] == 50 ? 5_000L : keys[i];
            }
            assertArrayEquals(expected, values);
        }
    }

    private static void churnLongs(ShardedHashMap<Long, Long> map, SplittableRandom rnd, long version) {
        final long id = rnd.nextInt(POOL);
        final int op = rnd.nextInt(100);
        if (op < 20) {
            checkMissingOr(id, map.putLong(id, longValue(id, version), -1L));
        } else if (op < 35) {
            final Long old = map.put(id, longValue(id, version));
            if (old != null) {
                checkLongValue(id, old);
            }
        } else if (op < 50) {
            final boolean delete = rnd.nextInt(4) == 0;
            map.compute(id, (k, old) -> {
                if (old != null) {
                    checkLongValue(k, old);
                }
                return delete ? null : longValue(k, version);
            });
        } else if (op < 60) {
            map.merge(id, longValue(id, version), (old, given) -> longValue(id, checkLongValue(id, old) + 1));
        } else if (op < 70) {
            final Long old = map.get(id);
            if (old != null) {
                map.replace(id, old, longValue(id, checkLongValue(id, old) + 1));
            }
        } else if (op < 85) {
            checkMissingOr(id, map.removeLong(id, -1L));
        } else {
            final Long old = map.remove(id);
            if (old != null) {
                checkLongValue(id, old);
            }
        }
    }

    private static void checkMissingOr(long id, long value) {
        if (value != -1L) {
            checkLongValue(id, value);
        }
    }
}
