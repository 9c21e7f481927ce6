package io.starshard;

import io.starshard.StressSupport.Workers;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

import static io.starshard.StressSupport.STRESS;
import static io.starshard.StressSupport.bytesValue;
import static io.starshard.StressSupport.checkBytesValue;
import static io.starshard.StressSupport.checkLongValue;
import static io.starshard.StressSupport.longValue;
import static io.starshard.StressSupport.stringKey;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Online rebalances, growing and shrinking, round after round, while two writers, two readers and two advancing
 * threads use the map. Afterwards the counters are exact and no key is lost, resurrected or duplicated; during
 * the run no reader ever misses a key that is present throughout, sees a counter go back, or sees a torn value.
 *
 * <p>Default runs take a few seconds; {@code -Pstress} runs 1M entries for at least 20 rounds.
 */
class RebalanceConcurrencyTest {
    /** Shard counts the rounds cycle through: up and down, powers of two and not. */
    private static final int[] TARGETS = {64, 7, 256, 3, 1024, 100, 1, 33};

    private static final int STATIC_KEYS = STRESS ? 1_000_000 : 150_000;
    private static final int COUNTER_KEYS = 1_000;
    private static final int VOLATILE_KEYS = 5_000;
    private static final int ROUNDS = STRESS ? Math.max(20, Integer.getInteger("starshard.rebalance.rounds", 24)) : 5;

    @Test
    void longMapStaysExactThroughRepeatedOnlineRebalances() throws Exception {
        final long counterBase = STATIC_KEYS;
        final long volatileBase = counterBase + COUNTER_KEYS;
        final long[] merges = new long[COUNTER_KEYS];     // writer 1's increments (even counter keys)
        final long[] casIncrements = new long[COUNTER_KEYS];   // writer 2's increments (odd counter keys)
        final long[][] lastVersion = new long[2][VOLATILE_KEYS];   // -1: removed; else the version last put
        final AtomicLong iterations = new AtomicLong();
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 16)) {
            for (long k = 0; k < STATIC_KEYS; k++) {
                map.putLong(k, longValue(k, 0), -1);
            }
            for (long k = counterBase; k < volatileBase; k++) {
                map.putLong(k, 0, -1);
            }
            for (long[] versions : lastVersion) {
                java.util.Arrays.fill(versions, -1);
            }
            final Workers workers = new Workers("rebalance-long");
            for (int w = 0; w < 2; w++) {
                final int writer = w;
                workers.add("writer", () -> {
                    final SplittableRandom rnd = new SplittableRandom(writer);
                    long version = 1;
                    while (!workers.stop) {
                        final int c = rnd.nextInt(COUNTER_KEYS / 2) * 2 + writer;
                        final long counterKey = counterBase + c;
                        if (writer == 0) {
                            map.merge(counterKey, 1L, Long::sum);
                            merges[c]++;
                        } else {
                            Long current;
                            do {
                                current = map.get(counterKey);
                                assertNotNull(current, "counter key lost");
                            } while (!map.replace(counterKey, current, current + 1));
                            casIncrements[c]++;
                        }
                        // each writer owns the volatile keys of its parity
                        final int v = rnd.nextInt(VOLATILE_KEYS / 2) * 2 + writer;
                        final long key = volatileBase + v;
                        if (rnd.nextInt(3) == 0) {
                            final Long removed = map.remove(key);
                            assertEquals(lastVersion[writer][v] < 0, removed == null, "remove of " + key);
                            lastVersion[writer][v] = -1;
                        } else {
                            final Long previous = map.put(key, longValue(key, version));
                            assertEquals(lastVersion[writer][v] < 0, previous == null, "put of " + key);
                            lastVersion[writer][v] = version++;
                        }
                    }
                });
            }
            for (int r = 0; r < 2; r++) {
                final int reader = r;
                workers.add("reader", () -> {
                    final SplittableRandom rnd = new SplittableRandom(100 + reader);
                    final long[] seenCounter = new long[COUNTER_KEYS];
                    final long[] keys = new long[64];
                    final long[] values = new long[64];
                    long reads = 0;
                    while (!workers.stop) {
                        final long k = rnd.nextLong(STATIC_KEYS);
                        final Long boxed = reader == 0 ? Long.valueOf(map.getLong(k, -1)) : map.get(k);
                        final long value = boxed == null ? -1 : boxed;
                        assertEquals(longValue(k, 0), value, "static key " + k + " must always be found");
                        final int c = rnd.nextInt(COUNTER_KEYS);
                        final long counter = map.getLong(counterBase + c, -1);
                        assertTrue(counter >= seenCounter[c], "counter " + c + " went back: " + counter + " < "
                            + seenCounter[c]);
                        seenCounter[c] = counter;
                        final long v = volatileBase + rnd.nextInt(VOLATILE_KEYS);
                        final long volatileValue = map.getLong(v, -1);
                        if (volatileValue != -1) {
                            checkLongValue(v, volatileValue);
                        }
                        if (++reads % 64 == 0) {
                            for (int i = 0; i < keys.length; i++) {
                                keys[i] = rnd.nextLong(STATIC_KEYS);
                            }
                            map.getLongs(keys, values, 0, keys.length, -1);
                            for (int i = 0; i < keys.length; i++) {
                                assertEquals(longValue(keys[i], 0), values[i], "batched read of " + keys[i]);
                            }
                        }
                        if (reader == 1 && reads % 20_000 == 0) {
                            assertStaticKeysIterateOnce(map);
                            iterations.incrementAndGet();
                        }
                    }
                });
            }
            for (int a = 0; a < 2; a++) {
                final int advancer = a;
                workers.add("advancer", () -> {
                    final SplittableRandom rnd = new SplittableRandom(200 + advancer);
                    while (!workers.stop) {
                        if (map.rebalanceStatus().migrating()) {
                            map.advanceRebalance(1 + rnd.nextInt(advancer == 0 ? 7 : 5_000));
                        } else {
                            Thread.onSpinWait();
                        }
                    }
                });
            }
            workers.start();
            try {
                for (int round = 0; round < ROUNDS && !workers.failed(); round++) {
                    final int target = TARGETS[round % TARGETS.length];
                    map.startRebalanceOnline(target, RebalanceOptions.defaults().batchSize(512)
                        .maxPause(Duration.ofNanos(200_000)));
                    final long deadline = System.nanoTime() + Duration.ofSeconds(STRESS ? 600 : 60).toNanos();
                    while (map.rebalanceStatus().migrating() && !workers.failed()) {
                        if (System.nanoTime() > deadline) {
                            fail("round " + round + " to " + target + " shards did not finish: "
                                + map.rebalanceStatus());
                        }
                        Thread.sleep(1);
                    }
                    assertEquals(target, map.shardCount());
                }
            } finally {
                workers.stop = true;
                workers.joinAndCheck();
            }
            System.out.printf("rebalance-long: %d rounds of %d static keys, %d counter increments, %d iterations%n",
                ROUNDS, STATIC_KEYS, java.util.Arrays.stream(merges).sum() + java.util.Arrays.stream(casIncrements).sum(),
                iterations.get());
            assertEquals(RebalanceStatus.State.IDLE, map.rebalanceStatus().state());
            for (long k = 0; k < STATIC_KEYS; k++) {
                assertEquals(longValue(k, 0), map.getLong(k, -1), "static key " + k + " lost or changed");
            }
            for (int c = 0; c < COUNTER_KEYS; c++) {
                assertEquals(merges[c] + casIncrements[c], map.getLong(counterBase + c, -1), "counter " + c);
            }
            long volatilePresent = 0;
            for (int v = 0; v < VOLATILE_KEYS; v++) {
                final long version = lastVersion[v % 2][v];
                final long key = volatileBase + v;
                if (version < 0) {
                    assertNull(map.get(key), "removed key " + key + " resurrected");
                } else {
                    assertEquals(longValue(key, version), map.getLong(key, -1), "key " + key + " lost or stale");
                    volatilePresent++;
                }
            }
            assertEquals(STATIC_KEYS + COUNTER_KEYS + volatilePresent, map.mappingCount(), "exact size");
            MapInvariants.checkLive(map);
        }
    }

    @Test
    void bytesMapKeepsEveryKeyThroughOnlineRebalancesInTheBackground() throws Exception {
        final int staticKeys = STRESS ? 200_000 : 20_000;
        final int rounds = STRESS ? 20 : 4;
        final long[] lastVersion = new long[VOLATILE_KEYS];
        java.util.Arrays.fill(lastVersion, -1);
        try (ShardedHashMap<String, byte[]> map = ShardedHashMap.withShards(String.class, byte[].class, 8)) {
            for (long k = 0; k < staticKeys; k++) {
                map.put(stringKey(k), bytesValue(stringKey(k), 0, false));
            }
            final Workers workers = new Workers("rebalance-bytes");
            workers.add("writer", () -> {
                final SplittableRandom rnd = new SplittableRandom(1);
                long version = 1;
                while (!workers.stop) {
                    final int v = rnd.nextInt(VOLATILE_KEYS);
                    final String key = stringKey(staticKeys + v);
                    if (rnd.nextInt(3) == 0) {
                        assertEquals(lastVersion[v] < 0, map.remove(key) == null, "remove of " + key);
                        lastVersion[v] = -1;
                    } else {
                        final boolean large = rnd.nextInt(500) == 0;
                        assertEquals(lastVersion[v] < 0, map.put(key, bytesValue(key, version, large)) == null);
                        lastVersion[v] = version++;
                    }
                }
            });
            workers.add("reader", () -> {
                final SplittableRandom rnd = new SplittableRandom(2);
                while (!workers.stop) {
                    final long k = rnd.nextLong(staticKeys);
                    final byte[] value = map.get(stringKey(k));
                    assertNotNull(value, "static key " + k + " must always be found");
                    assertEquals(0, checkBytesValue(stringKey(k), value));
                    final byte[] other = map.get(stringKey(staticKeys + rnd.nextInt(VOLATILE_KEYS)));
                    if (other != null) {
                        checkBytesValue(null, other);
                    }
                }
            });
            workers.start();
            try {
                for (int round = 0; round < rounds && !workers.failed(); round++) {
                    map.startRebalanceOnline(TARGETS[round % TARGETS.length],
                        RebalanceOptions.defaults().background(true).batchSize(256).maxPause(Duration.ofNanos(200_000)));
                    while (!map.awaitRebalance(Duration.ofMillis(100)) && !workers.failed()) {
                        assertEquals(staticKeys, countStatic(map, staticKeys), "iteration during the rebalance");
                    }
                }
            } finally {
                workers.stop = true;
                workers.joinAndCheck();
            }
            for (long k = 0; k < staticKeys; k++) {
                assertArrayEquals(bytesValue(stringKey(k), 0, false), map.get(stringKey(k)), "static key " + k);
            }
            for (int v = 0; v < VOLATILE_KEYS; v++) {
                final byte[] value = map.get(stringKey(staticKeys + v));
                if (lastVersion[v] < 0) {
                    assertNull(value, "removed key resurrected");
                } else {
                    assertNotNull(value, "key lost");
                    assertEquals(lastVersion[v], checkBytesValue(stringKey(staticKeys + v), value), "stale value");
                }
            }
            MapInvariants.checkLive(map);
        }
    }

    /** Every static key once, no more, no less, while keys move. */
    private static void assertStaticKeysIterateOnce(ShardedHashMap<Long, Long> map) {
        final Set<Long> seen = new HashSet<>();
        for (Long k : map.keySet()) {
            if (k < STATIC_KEYS && !seen.add(k)) {
                fail("iteration saw static key " + k + " twice");
            }
        }
        assertEquals(STATIC_KEYS, seen.size(), "iteration missed static keys");
    }

    private static long countStatic(ShardedHashMap<String, byte[]> map, int staticKeys) {
        final Set<String> seen = new HashSet<>();
        for (String k : map.keySet()) {
            final long id = Long.parseLong(k.substring("key-".length()));
            if (id < staticKeys && !seen.add(k)) {
                fail("iteration saw " + k + " twice");
            }
        }
        return seen.size();
    }
}
