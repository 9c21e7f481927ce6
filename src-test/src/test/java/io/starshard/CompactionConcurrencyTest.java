package io.starshard;

import io.starshard.StressSupport.Workers;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

import static io.starshard.StressSupport.STRESS;
import static io.starshard.StressSupport.bytesValue;
import static io.starshard.StressSupport.checkBytesValue;
import static io.starshard.StressSupport.stringKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Compaction and table shrinking while the map is read, written and rebalanced: two writers replace, remove and
 * re-insert self-checking values (so entries are copied out of sparse chunks under the readers, and every few
 * thousand writes a writer drops nine tenths of its keys, so tables shrink), two readers check every value they
 * see and that the static keys are always there, one thread calls {@code compact()} over and over, and the main
 * thread runs online rebalances. After each rebalance the writers pause and the invariant validator runs (while
 * readers and compaction go on); afterwards no key is lost, stale or resurrected, the size is exact, and
 * compaction did give memory back.
 *
 * <p>Default: a few seconds; {@code -Pstress}: minutes ({@code starshard.concurrency.seconds}).
 */
class CompactionConcurrencyTest {
    private static final int STATIC_KEYS = STRESS ? 200_000 : 20_000;
    private static final int VOLATILE_KEYS = STRESS ? 200_000 : 40_000;
    private static final int[] TARGETS = {16, 5, 8, 32, 3, 8};

    @Test
    void entriesSurviveCompactionShrinkingAndRebalancesUnderReadersAndWriters() throws Exception {
        final long[][] lastVersion = new long[2][VOLATILE_KEYS];   // -1: absent; else the version last put
        final AtomicLong givenBack = new AtomicLong();
        final AtomicLong compactions = new AtomicLong();
        final AtomicLong bursts = new AtomicLong();
        final java.util.concurrent.atomic.AtomicBoolean pause = new java.util.concurrent.atomic.AtomicBoolean();
        final java.util.concurrent.atomic.AtomicInteger paused = new java.util.concurrent.atomic.AtomicInteger();
        final long millis = StressSupport.phaseMillis(1, 3_000);
        try (ShardedHashMap<String, byte[]> map = ShardedHashMap.withShards(String.class, byte[].class, 8)) {
            for (long k = 0; k < STATIC_KEYS; k++) {
                map.put(stringKey(k), bytesValue(stringKey(k), 0, false));
            }
            for (long[] versions : lastVersion) {
                java.util.Arrays.fill(versions, -1);
            }
            final Workers workers = new Workers("compaction");
            for (int w = 0; w < 2; w++) {
                final int writer = w;
                final long[] last = lastVersion[writer];
                workers.add("writer", () -> {
                    final SplittableRandom rnd = new SplittableRandom(writer);
                    long version = 1;
                    long ops = 0;
                    while (!workers.stop) {
                        if (pause.get()) {
                            paused.incrementAndGet();
                            while (pause.get() && !workers.stop) {
                                Thread.onSpinWait();
                            }
                            paused.decrementAndGet();
                        }
                        if (++ops % 20_000 == 0) {
                            // A burst: nine tenths of this writer's keys go, so chunks empty and tables shrink.
                            for (int v = writer; v < VOLATILE_KEYS; v += 2) {
                                if (last[v] >= 0 && v % 10 != 0) {
                                    assertNotNull(map.remove(stringKey(STATIC_KEYS + v)), "burst remove");
                                    last[v] = -1;
                                }
                            }
                            bursts.incrementAndGet();
                        }
                        final int v = rnd.nextInt(VOLATILE_KEYS / 2) * 2 + writer;   // each writer owns a parity
                        final String key = stringKey(STATIC_KEYS + v);
                        final int r = rnd.nextInt(100);
                        if (r < 10) {
                            final byte[] removed = map.remove(key);
                            assertEquals(last[v] < 0, removed == null, "remove of " + key);
                            if (removed != null) {
                                assertEquals(last[v], checkBytesValue(key, removed), "removed value of " + key);
                            }
                            last[v] = -1;
                        } else {
                            final byte[] previous = map.put(key, bytesValue(key, version, r == 99));
                            assertEquals(last[v] < 0, previous == null, "put of " + key);
                            if (previous != null) {
                                assertEquals(last[v], checkBytesValue(key, previous), "previous value of " + key);
                            }
                            last[v] = version++;
                        }
                    }
                });
            }
            for (int r = 0; r < 2; r++) {
                final int reader = r;
                workers.add("reader", () -> {
                    final SplittableRandom rnd = new SplittableRandom(100 + reader);
                    while (!workers.stop) {
                        final long k = rnd.nextLong(STATIC_KEYS);
                        final byte[] fixed = map.get(stringKey(k));
                        assertNotNull(fixed, "static key " + k + " must always be found");
                        assertEquals(0, checkBytesValue(stringKey(k), fixed));
                        final String key = stringKey(STATIC_KEYS + rnd.nextInt(VOLATILE_KEYS));
                        final byte[] v = map.get(key);
                        if (v != null) {
                            checkBytesValue(key, v);
                        }
                    }
                });
            }
            workers.add("compactor", () -> {
                while (!workers.stop) {
                    try {
                        givenBack.addAndGet(map.compact());
                        compactions.incrementAndGet();
                    } catch (IllegalStateException e) {
                        if (!workers.stop) {
                            throw e;
                        }
                    }
                    Thread.sleep(2);
                }
            });
            workers.start();
            int rounds = 0;
            try {
                final long end = System.nanoTime() + millis * 1_000_000L;
                while (System.nanoTime() < end && !workers.failed()) {
                    final int target = TARGETS[rounds++ % TARGETS.length];
                    map.startRebalanceOnline(target, RebalanceOptions.defaults().background(true).batchSize(256)
                        .maxPause(Duration.ofNanos(200_000)));
                    if (!map.awaitRebalance(Duration.ofSeconds(60)) && !workers.failed()) {
                        fail("rebalance to " + target + " did not finish: " + map.rebalanceStatus());
                    }
                    pause.set(true);   // the validator needs the entry count still: writers wait, the rest goes on
                    while (paused.get() < 2 && !workers.failed()) {
                        Thread.onSpinWait();
                    }
                    try {
                        MapInvariants.checkLive(map);
                    } finally {
                        pause.set(false);
                    }
                }
            } finally {
                workers.stop = true;
                workers.joinAndCheck();
            }
            long relocated = 0;
            long longestStep = 0;
            for (ShardMemoryStats row : map.shardMemoryStats()) {
                relocated += row.relocatedBytes();
                longestStep = Math.max(longestStep, row.longestCompactionStepNanos());
            }
            System.out.printf("compaction: %d rebalances, %d compact() calls giving back %.1f MiB, %d bursts, %.1f MiB"
                    + " relocated in the current shards, longest compaction step %.3f ms%n", rounds, compactions.get(),
                givenBack.get() / 1048576.0, bursts.get(), relocated / 1048576.0, longestStep / 1e6);
            assertTrue(compactions.get() > 0 && bursts.get() > 0, "the scenario ran");
            assertTrue(givenBack.get() > 0, "compaction gave memory back while the map was in use");
            for (long k = 0; k < STATIC_KEYS; k++) {
                final byte[] v = map.get(stringKey(k));
                assertNotNull(v, "static key " + k + " lost");
                assertEquals(0, checkBytesValue(stringKey(k), v));
            }
            long present = 0;
            for (int v = 0; v < VOLATILE_KEYS; v++) {
                final long version = lastVersion[v % 2][v];
                final String key = stringKey(STATIC_KEYS + v);
                if (version < 0) {
                    assertNull(map.get(key), "removed key " + key + " resurrected");
                } else {
                    final byte[] value = map.get(key);
                    assertNotNull(value, "key " + key + " lost");
                    assertEquals(version, checkBytesValue(key, value), "key " + key + " stale");
                    present++;
                }
            }
            assertEquals(STATIC_KEYS + present, map.mappingCount(), "exact size");
            MapInvariants.checkLive(map);
        }
    }
}
