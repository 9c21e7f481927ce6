package io.starshard;

import io.starshard.offheap.OffHeapMemoryExhaustedException;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a user of {@code memoryBudget} relies on: the budget fills up before a put is refused, also after churn;
 * the footprint follows the live bytes while values are replaced; memory comes back after removals, after
 * {@code compact()} and after {@code clear()}. Values are {@code byte[]} of random sizes from 64 B to 4 KiB;
 * "live" is the user's bytes, 8 per key plus the value's length.
 */
class MemoryBudgetTest {
    private static final int MIN_VALUE = 64;
    private static final int MAX_VALUE = 4096;
    /** Per shard, what compaction leaves alone: the chunk being filled (at most 256 KiB) and up to 64 KiB dead. */
    private static final long PER_SHARD_SLACK = (256 + 64) * 1024;

    private static byte[] value(SplittableRandom random, long key) {
        final byte[] v = new byte[MIN_VALUE + random.nextInt(MAX_VALUE - MIN_VALUE + 1)];
        v[0] = (byte) key;
        v[v.length - 1] = (byte) (key >>> 8);
        return v;
    }

    @Test
    void aSixtyFourMebibyteBudgetFillsBeyondEightyFivePercentAlsoAfterChurn() {
        final long budget = 64L << 20;
        final SplittableRandom random = new SplittableRandom(1);
        try (ShardedHashMap<Long, byte[]> map = ShardedHashMap.builder(Long.class, byte[].class)
                .memoryBudget(budget).build()) {
            final long[] live = new long[1];
            long next = putUntilRefused(map, 0, random, live);
            assertTrue(live[0] >= 0.85 * budget, "first refusal at " + share(live[0], budget) + " of the budget");
            for (long k = 0; k < next; k += 2) {
                live[0] -= Long.BYTES + map.remove(k).length;
            }
            putUntilRefused(map, next, random, live);
            assertTrue(live[0] >= 0.85 * budget, "after removing half, refused again at " + share(live[0], budget));
            final MemoryStats stats = map.memoryStats();
            assertTrue(stats.usedBytes() <= budget, "the budget is a hard limit: " + stats);
            MapInvariants.checkLive(map);
        }
    }

    private static String share(long part, long whole) {
        return String.format(java.util.Locale.ROOT, "%.1f %%", 100.0 * part / whole);
    }

    /** Puts new keys from {@code first} on until the budget refuses one; returns the refused key. */
    private static long putUntilRefused(ShardedHashMap<Long, byte[]> map, long first, SplittableRandom random,
                                        long[] live) {
        for (long k = first; ; k++) {
            final byte[] v = value(random, k);
            try {
                map.put(k, v);
            } catch (OffHeapMemoryExhaustedException e) {
                assertTrue(e.getMessage().contains("after compacting every shard the map holds"), e.getMessage());
                assertNull(map.get(k), "a refused put changed nothing");
                return k;
            }
            live[0] += Long.BYTES + v.length;
        }
    }

    @Test
    void churnKeepsTheFootprintNearTheLiveBytesAndRemovalsCompactionAndClearGiveMemoryBack() {
        final int keys = 20_000;
        final int shards = 16;
        final SplittableRandom random = new SplittableRandom(2);
        final byte[][] values = new byte[keys][];
        try (ShardedHashMap<Long, byte[]> map = ShardedHashMap.withShards(Long.class, byte[].class, shards)) {
            long live = 0;
            for (int k = 0; k < keys; k++) {
                values[k] = value(random, k);
                map.put((long) k, values[k]);
                live += Long.BYTES + values[k].length;
            }
            long usedAtHalf = 0;
            final int replacements = 20 * keys;
            for (int i = 1; i <= replacements; i++) {
                final int k = random.nextInt(keys);
                final byte[] v = value(random, k);
                live += v.length - values[k].length;
                values[k] = v;
                map.put((long) k, v);
                if (i == replacements / 2) {
                    usedAtHalf = map.memoryStats().usedBytes();
                }
            }
            MemoryStats stats = map.memoryStats();
            assertTrue(stats.arenaBytes() <= 1.3 * live + shards * PER_SHARD_SLACK,
                "footprint after churn: " + stats + " for " + live + " live bytes");
            assertTrue(stats.usedBytes() <= usedAtHalf + shards * PER_SHARD_SLACK,
                "no growth in the second half of the churn: " + usedAtHalf + " -> " + stats);
            final long tablesAfterLoad = stats.tableBytes();
            for (int k = 0; k < keys; k++) {
                if (k % 100 != 0) {
                    live -= Long.BYTES + map.remove((long) k).length;
                    values[k] = null;
                }
            }
            assertTrue(map.compact() > 0, "compact() gave memory back");
            stats = map.memoryStats();
            assertTrue(stats.arenaBytes() <= 2 * live + shards * PER_SHARD_SLACK, "after removing 99 % and compacting: "
                + stats + " for " + live + " live bytes");
            assertTrue(stats.tableBytes() * 8 <= tablesAfterLoad, "tables shrank: " + tablesAfterLoad + " -> " + stats);
            for (int k = 0; k < keys; k++) {
                if (values[k] == null) {
                    assertNull(map.get((long) k));
                } else {
                    final byte[] v = map.get((long) k);
                    assertNotNull(v, "key " + k + " lost");
                    assertArrayEquals(values[k], v, "key " + k);
                }
            }
            MapInvariants.checkLive(map);
            map.clear();
            map.compact();   // waits until the retired memory is freed
            stats = map.memoryStats();
            assertEquals(0, stats.arenaBytes(), "clear() returns every chunk: " + stats);
            assertEquals(stats.tableBytes(), stats.usedBytes(), "and only the first tables remain: " + stats);
            assertTrue(stats.tableBytes() <= shards * 1024L, "each a first table: " + stats);
        }
    }
}
