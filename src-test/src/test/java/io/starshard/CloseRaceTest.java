package io.starshard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import static io.starshard.StressSupport.THREADS;
import static io.starshard.StressSupport.Workers;
import static io.starshard.StressSupport.bytesValue;
import static io.starshard.StressSupport.checkBytesValue;
import static io.starshard.StressSupport.checkLongValue;
import static io.starshard.StressSupport.longValue;
import static io.starshard.StressSupport.stringKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code close()} racing every kind of call: the racing calls complete or throw
 * {@code IllegalStateException("map is closed")} and nothing else, the JVM does not crash (optimistic readers
 * must never touch memory that close freed), nothing hangs, and afterwards the map's off-heap accounting is zero.
 *
 * <p>Rounds vary the map (inline {@code Long -> Long} or indirect {@code String -> byte[]} with values above
 * 16 KiB now and then), the shard count (1, 8, 64), whether shards exist before the race (0 prefilled keys: shards
 * are created while close runs) and the number of closers (one or two at once). Default 100 rounds;
 * {@code -Pstress} 1,000, or {@code -Dstarshard.close.rounds=N}.
 */
class CloseRaceTest {
    private static final int ROUNDS = Integer.getInteger("starshard.close.rounds", StressSupport.STRESS ? 1000 : 100);
    private static final String CLOSED = "map is closed";
    private static final int KEYS = 512;
    private static final int[] SHARDS = {1, 8, 64};

    /** Totals over all rounds, printed for the report. */
    private final LongAdder ops = new LongAdder();
    private final LongAdder closedSeen = new LongAdder();
    private final LongAdder validated = new LongAdder();

    @Test
    void racingCallsCompleteOrSeeMapIsClosed() throws Exception {
        final SplittableRandom rnd = new SplittableRandom(20261201);
        int twoCloserRounds = 0;
        int createdDuringClose = 0;
        for (int round = 0; round < ROUNDS; round++) {
            final boolean longs = round % 2 == 0;
            final int shards = SHARDS[(round / 2) % SHARDS.length];
            final int prefill = (round / 6) % 3 == 0 ? 0 : KEYS / 2;
            final boolean twoClosers = (round / 18) % 2 == 1;   // independent of the other three choices
            twoCloserRounds += twoClosers ? 1 : 0;
            final ShardedHashMap<?, ?> map = longs ? longMap(shards, prefill) : bytesMap(shards, prefill);
            createdDuringClose += map.initializedShards() < shards ? 1 : 0;
            runRound(round, map, longs, twoClosers, rnd.nextInt(longs ? 4000 : 1500));
        }
        System.out.printf("CloseRaceTest: %d rounds (%d with two closers, %d with shards created during the race),"
            + " %d racing ops, %d IllegalStateException(\"map is closed\"), %d values validated%n", ROUNDS,
            twoCloserRounds, createdDuringClose, ops.sum(), closedSeen.sum(), validated.sum());
    }

    private static ShardedHashMap<Long, Long> longMap(int shards, int prefill) {
        final ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(shards).build();
        for (long k = 0; k < prefill; k++) {
            map.putLong(k, longValue(k, 0), -1L);
        }
        return map;
    }

    private static ShardedHashMap<String, byte[]> bytesMap(int shards, int prefill) {
        final ShardedHashMap<String, byte[]> map = ShardedHashMap.builder(String.class, byte[].class)
            .shards(shards).build();
        for (long k = 0; k < prefill; k++) {
            map.put(stringKey(k), bytesValue(stringKey(k), 0, k % 128 == 0));
        }
        return map;
    }

    /**
     * One round: workers hammer the map; after {@code opsBeforeClose} operations (summed over workers) one or two
     * closers close it. Workers stop at their first "map is closed" after checking that later calls throw too.
     */
    @SuppressWarnings("unchecked")
    private void runRound(int round, ShardedHashMap<?, ?> map, boolean longs, boolean twoClosers, int opsBeforeClose)
        throws Exception {
        final ShardedHashMap<?, ?> memory = map;
        final boolean allShardsExist = map.initializedShards() == map.shardCount();
        final Workers w = new Workers("close-race-" + round);
        final CountDownLatch start = new CountDownLatch(1);
        final LongAdder roundOps = new LongAdder();
        final int workers = Math.max(2, THREADS - 1);
        for (int t = 0; t < workers; t++) {
            final long seed = round * 131L + t;
            w.add("worker", () -> {
                start.await();
                final SplittableRandom rnd = new SplittableRandom(seed);
                long done = 0;
                try {
                    // Bounded by close: every call after it throws. The bound on iterations only guards the test.
                    for (; done < 50_000_000L && !w.stop; done++) {
                        if (longs) {
                            longOp((ShardedHashMap<Long, Long>) map, rnd);
                        } else {
                            bytesOp((ShardedHashMap<String, byte[]>) map, rnd);
                        }
                        roundOps.increment();
                    }
                    throw new AssertionError("worker never saw the map closed");
                } catch (IllegalStateException e) {
                    expectClosed(map, e);
                    closedSeen.increment();
                    // Every later call throws too.
                    for (int i = 0; i < 4; i++) {
                        try {
                            if (longs) {
                                longOp((ShardedHashMap<Long, Long>) map, rnd);
                            } else {
                                bytesOp((ShardedHashMap<String, byte[]>) map, rnd);
                            }
                            throw new AssertionError("a call after close returned normally");
                        } catch (IllegalStateException again) {
                            expectClosed(map, again);
                        }
                    }
                } finally {
                    ops.add(done);
                }
            });
        }
        final Workers closers = new Workers("closer-" + round);
        final CountDownLatch closeNow = new CountDownLatch(1);
        for (int c = 0; c < (twoClosers ? 2 : 1); c++) {
            closers.add("closer", () -> {
                closeNow.await();
                map.close();
                assertTrue(map.isClosed(), "isClosed after close()");
                if (allShardsExist) {
                    // No shard can be created concurrently: on return of close(), every byte is freed.
                    assertFreed(memory, "on return of close() (round " + round + ")");
                }
            });
        }
        w.start();
        closers.start();
        start.countDown();
        final long waitUntil = System.nanoTime() + 2_000_000_000L;
        while (roundOps.sum() < opsBeforeClose && !w.stop && System.nanoTime() < waitUntil) {
            Thread.onSpinWait();
        }
        closeNow.countDown();
        closers.joinAndCheck();
        w.joinAndCheck();
        map.close();   // a second close is a no-op
        assertFreed(memory, "after close() and every racing call returned (round " + round + ")");
    }

    private static void expectClosed(ShardedHashMap<?, ?> map, IllegalStateException e) {
        if (!CLOSED.equals(e.getMessage())) {
            throw new AssertionError("a call racing close() threw IllegalStateException(\"" + e.getMessage()
                + "\"), expected \"" + CLOSED + "\"", e);
        }
        if (!map.isClosed()) {
            throw new AssertionError("\"map is closed\" thrown while the map is open", e);
        }
    }

    /** memoryStats() answers after close for exactly this check. */
    private static void assertFreed(ShardedHashMap<?, ?> map, String when) {
        final MemoryStats memory = map.memoryStats();
        assertEquals(0, memory.usedBytes(), "off-heap bytes still accounted " + when + ": " + memory);
    }

    private void longOp(ShardedHashMap<Long, Long> map, SplittableRandom rnd) {
        final long k = rnd.nextInt(KEYS);
        final int op = rnd.nextInt(16) < 15 ? rnd.nextInt(16) : 16 + rnd.nextInt(4);
        switch (op) {
            case 0, 1 -> checkMissingOr(k, map.getLong(k, -1L));
            case 2 -> {
                final long[] keys = new long[70];   // two read sections of getLongs
                for (int i = 0; i < keys.length; i++) {
                    keys[i] = (k + i * 31L) % KEYS;
                }
                final long[] values = new long[keys.length];
                map.getLongs(keys, values, 0, keys.length, -1L);
                for (int i = 0; i < keys.length; i++) {
                    checkMissingOr(keys[i], values[i]);
                }
            }
            case 3 -> {
                final Long v = map.get(k);
                if (v != null) {
                    check(k, v);
                }
            }
            case 4, 5 -> checkMissingOr(k, map.putLong(k, longValue(k, rnd.nextInt(1000)), -1L));
            case 6 -> checkOrNull(k, map.put(k, longValue(k, 1)));
            case 7 -> checkMissingOr(k, map.removeLong(k, -1L));
            case 8 -> checkOrNull(k, map.remove(k));
            case 9 -> map.compute(k, (key, old) -> old == null ? longValue(key, 0) : longValue(key, check(key, old) + 1));
            case 10 -> map.merge(k, longValue(k, 0), (old, given) -> longValue(k, check(k, old) + 1));
            case 11 -> checkOrNull(k, map.putIfAbsent(k, longValue(k, 2)));
            case 12 -> {
                final Long old = map.get(k);
                if (old != null) {
                    map.replace(k, old, longValue(k, check(k, old) + 1));
                }
            }
            case 13 -> map.containsLong(k);
            case 14 -> map.containsKey(k);
            case 15 -> sizeRacingClose(map);
            case 16 -> {
                for (Map.Entry<Long, Long> e : map.entrySet()) {
                    check(e.getKey(), e.getValue());
                }
            }
            case 17 -> map.forEach(this::check);
            case 18 -> map.shardStats();
            default -> checkKeys(map.keys());
        }
    }

    private void bytesOp(ShardedHashMap<String, byte[]> map, SplittableRandom rnd) {
        final String k = stringKey(rnd.nextInt(KEYS));
        final boolean large = rnd.nextInt(128) == 0;
        // Full scans copy and check every value (some of 70 KB): keep them to a few percent of the calls.
        final int op = rnd.nextInt(64) != 0 ? rnd.nextInt(13) : 13 + rnd.nextInt(3);
        switch (op) {
            case 0, 1, 2, 3 -> check(k, map.get(k));
            case 4, 5 -> check(k, map.put(k, bytesValue(k, rnd.nextInt(1000), large)));
            case 6 -> check(k, map.remove(k));
            case 7 -> map.compute(k, (key, old) -> {
                check(key, old);
                return rnd.nextInt(4) == 0 ? null : bytesValue(key, 3, large);
            });
            case 8 -> map.merge(k, bytesValue(k, 4, false), (old, given) -> {
                check(k, old);
                return given;
            });
            case 9 -> check(k, map.putIfAbsent(k, bytesValue(k, 5, large)));
            case 10 -> check(k, map.replace(k, bytesValue(k, 6, false)));
            case 11 -> map.containsKey(k);
            case 12 -> sizeRacingClose(map);
            case 13 -> {
                final Iterator<Map.Entry<String, byte[]>> it = map.entrySet().iterator();
                while (it.hasNext()) {
                    final Map.Entry<String, byte[]> e = it.next();
                    check(e.getKey(), e.getValue());
                }
            }
            case 14 -> map.forEach(this::check);
            default -> {
                for (byte[] v : map.values()) {
                    check(null, v);
                }
            }
        }
    }

    /**
     * {@code size()} racing {@code close()} must return or throw "map is closed" (the worker loop checks which). Its
     * value is not checked: it sums per-thread counters without a lock, so while writers run it can be off by any
     * number of in-flight inserts and removes; the only bound that always holds, {@code >= 0}, holds by construction.
     */
    private static void sizeRacingClose(ShardedHashMap<?, ?> map) {
        map.size();
    }

    /** {@code keys()} copies each shard under its lock: every key at most once, and only keys that were written. */
    private static void checkKeys(List<Long> keys) {
        final Set<Long> distinct = new HashSet<>(keys);
        assertEquals(keys.size(), distinct.size(), "keys() returned a key twice");
        for (long k : keys) {
            assertTrue(k >= 0 && k < KEYS, () -> "keys() returned a key never written: " + k);
        }
    }

    private long check(long key, Long value) {
        validated.increment();
        return checkLongValue(key, value);
    }

    private void checkMissingOr(long key, long value) {
        if (value != -1L) {
            check(key, value);
        }
    }

    private void checkOrNull(long key, Long value) {
        if (value != null) {
            check(key, value);
        }
    }

    private void check(String key, byte[] value) {
        if (value != null) {
            validated.increment();
            checkBytesValue(key, value);
        }
    }

    // =========================================================================================================
    // Shards created while close() runs
    // =========================================================================================================

    /**
     * Writers create shards (4,096 of them, all empty at first) while {@code close()} scans them, so some shards
     * are published behind its cursor and must release themselves. Meanwhile another map of the JVM is read all the
     * time: readers share the epoch domain, so memory retired by the map under test cannot always be freed at
     * once. Once close() and every racing call have returned, every byte must be freed all the same.
     */
    @Test
    void shardsCreatedDuringCloseAreFreedWhenTheCallsReturn() throws Exception {
        final int rounds = ROUNDS;   // about one round in ten publishes a shard behind close()'s cursor
        final ShardedHashMap<Long, Long> other = longMap(4, 64);
        final Workers background = new Workers("other-map-reader");
        final LongAdder otherReads = new LongAdder();
        background.add("reader", () -> {
            for (long k = 0; !background.stop; k++) {
                checkLongValue(k & 63, other.getLong(k & 63, -1L));
                otherReads.increment();
            }
        });
        background.start();
        final SplittableRandom rnd = new SplittableRandom(7);
        long created = 0;
        try {
            for (int round = 0; round < rounds; round++) {
                final ShardedHashMap<Long, Long> map = longMap(4096, 0);
                final ShardedHashMap<?, ?> memory = map;
                final Workers w = new Workers("creators-" + round);
                final int writers = Math.max(2, THREADS - 1);
                final LongAdder puts = new LongAdder();
                for (int t = 0; t < writers; t++) {
                    final long first = t;
                    w.add("writer", () -> {
                        try {
                            for (long k = first; k < 10_000_000L; k += writers) {
                                map.putLong(k, longValue(k, 0), -1L);
                                puts.increment();
                            }
                            throw new AssertionError("writer never saw the map closed");
                        } catch (IllegalStateException e) {
                            expectClosed(map, e);
                        }
                    });
                }
                w.start();
                final long target = rnd.nextInt(3000);
                final long waitUntil = System.nanoTime() + 2_000_000_000L;
                while (puts.sum() < target && !w.stop && System.nanoTime() < waitUntil) {
                    Thread.onSpinWait();
                }
                created += map.initializedShards();   // before close(): afterwards it throws "map is closed"
                map.close();
                w.joinAndCheck();
                assertFreed(memory, "after close() and every racing call returned (round " + round + ")");
            }
        } finally {
            background.stop = true;
            background.joinAndCheck();
            other.close();
        }
        System.out.printf("CloseRaceTest shards created during close: %d rounds, %d shards created, %d reads of"
            + " another map%n", rounds, created, otherReads.sum());
    }

    // =========================================================================================================
    // Closing twice, and from two threads at once
    // =========================================================================================================

    /**
     * Several threads call {@code close()} at the same moment on a map whose shards all exist, while a reader
     * keeps reading; each call must return normally and, on its return, every byte must be freed (a losing
     * closer must not return while the winner is still releasing).
     */
    @Test
    void concurrentClosersAllReturnWithMemoryFreed() throws Exception {
        final int rounds = Math.max(20, ROUNDS / 2);
        int earlyReturns = 0;
        for (int round = 0; round < rounds; round++) {
            final ShardedHashMap<String, byte[]> map = bytesMap(4, 2000);
            assertEquals(4, map.initializedShards(), "every shard exists, so none is created during close");
            final ShardedHashMap<?, ?> memory = map;
            final CountDownLatch go = new CountDownLatch(1);
            final Workers closers = new Workers("closers-" + round);
            final int[] notFreed = new int[THREADS];
            for (int c = 0; c < THREADS; c++) {
                final int closer = c;
                closers.add("closer", () -> {
                    go.await();
                    map.close();
                    notFreed[closer] = memory.memoryStats().usedBytes() != 0 ? 1 : 0;
                });
            }
            closers.start();
            go.countDown();
            closers.joinAndCheck();
            for (int n : notFreed) {
                earlyReturns += n;
            }
            map.close();
            assertFreed(memory, "after every closer returned (round " + round + ")");
        }
        System.out.printf("CloseRaceTest concurrent closers: %d rounds x %d closers, %d returned before the memory"
            + " was freed%n", rounds, THREADS, earlyReturns);
        assertEquals(0, earlyReturns, "close() calls that returned while the map's memory was not yet freed");
    }

    @Test
    void closeTwiceIsANoOp() {
        final ShardedHashMap<Long, Long> map = longMap(8, 100);
        final ShardedHashMap<?, ?> memory = map;
        map.close();
        assertFreed(memory, "after the first close()");
        map.close();
        assertTrue(map.isClosed());
        assertFreed(memory, "after the second close()");
    }

    // =========================================================================================================
    // After close, every call throws "map is closed", whether or not the key's shard ever existed
    // =========================================================================================================

    @Test
    void everyCallAfterCloseThrowsMapIsClosed() {
        for (int prefill : new int[] {0, 1000}) {
            final ShardedHashMap<Long, Long> longs = longMap(64, prefill);
            final ShardedHashMap<String, byte[]> bytes = bytesMap(64, prefill);
            longs.close();
            bytes.close();
            final List<String> returned = new ArrayList<>();
            final Map<String, Executable> calls = new java.util.LinkedHashMap<>();
            calls.put("get", () -> longs.get(7L));
            calls.put("getLong", () -> longs.getLong(7L, -1L));
            calls.put("getLongs", () -> longs.getLongs(new long[] {7L, 8L}, new long[2], 0, 2, -1L));
            calls.put("containsKey", () -> longs.containsKey(7L));
            calls.put("containsLong", () -> longs.containsLong(7L));
            calls.put("putLong", () -> longs.putLong(7L, 1L, -1L));
            calls.put("addAndGetLong", () -> longs.addAndGetLong(7L, 1L));
            calls.put("removeLong", () -> longs.removeLong(7L, -1L));
            calls.put("put", () -> longs.put(7L, 1L));
            calls.put("putIfAbsent", () -> longs.putIfAbsent(7L, 1L));
            calls.put("replace(k, v)", () -> longs.replace(7L, 1L));
            calls.put("replace(k, old, new)", () -> longs.replace(7L, 1L, 2L));
            calls.put("remove(k)", () -> longs.remove(7L));
            calls.put("remove(k, v)", () -> longs.remove(7L, 1L));
            calls.put("compute", () -> longs.compute(7L, (k, v) -> 1L));
            calls.put("computeIfAbsent", () -> longs.computeIfAbsent(7L, k -> 1L));
            calls.put("computeIfPresent", () -> longs.computeIfPresent(7L, (k, v) -> 1L));
            calls.put("merge", () -> longs.merge(7L, 1L, Long::sum));
            calls.put("size", longs::size);
            calls.put("isEmpty", longs::isEmpty);
            calls.put("iterator", () -> longs.entrySet().iterator().hasNext());
            calls.put("forEach", () -> longs.forEach((k, v) -> { }));
            calls.put("keys", longs::keys);
            calls.put("clear", longs::clear);
            calls.put("retain", () -> longs.retain((k, v) -> true));
            calls.put("bytes get", () -> bytes.get("a"));
            calls.put("bytes put", () -> bytes.put("a", new byte[3]));
            calls.put("bytes replace(k, v)", () -> bytes.replace("a", new byte[3]));
            calls.put("bytes remove", () -> bytes.remove("a"));
            calls.put("bytes computeIfPresent", () -> bytes.computeIfPresent("a", (k, v) -> v));
            for (Map.Entry<String, Executable> call : calls.entrySet()) {
                try {
                    call.getValue().execute();
                    returned.add(call.getKey());
                } catch (IllegalStateException e) {
                    assertEquals(CLOSED, e.getMessage(), call.getKey() + " after close");
                } catch (Throwable e) {
                    throw new AssertionError(call.getKey() + " after close threw " + e, e);
                }
            }
            assertEquals(List.of(), returned, "calls that returned normally on a closed map (" + prefill
                + " keys before close, so " + (prefill == 0 ? "no" : "most") + " shards existed)");
        }
    }

    /** The racing workers above would hang, not fail, if close() waited for a reader forever: bound it here. */
    @Test
    void closeDoesNotWaitForAnIdleReaderThread() throws Exception {
        final ShardedHashMap<Long, Long> map = longMap(8, 100);
        final CountDownLatch read = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final Workers w = new Workers("idle-reader");
        w.add("reader", () -> {
            assertEquals(longValue(5, 0), map.getLong(5, -1L));
            read.countDown();
            release.await();   // parked outside any read section
            assertThrows(IllegalStateException.class, () -> map.getLong(5, -1L));
        });
        w.start();
        assertTrue(read.await(StressSupport.JOIN_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS));
        final Workers closer = new Workers("closer");
        closer.add("closer", map::close);
        closer.start();
        closer.joinAndCheck();
        release.countDown();
        w.joinAndCheck();
        assertFreed(map, "after close()");
    }
}
