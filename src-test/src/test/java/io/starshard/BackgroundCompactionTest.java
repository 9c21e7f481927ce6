package io.starshard;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Maintenance that the writes left half done: with the shortest maximum pause, the removal that makes a table
 * worth shrinking starts the shrink but drains only a few groups; without writes the rest waits, and the
 * background agent of {@code compactInBackground} finishes it.
 */
class BackgroundCompactionTest {
    private static final int ENTRIES = 100_000;

    /** Loads a one-shard map, then removes keys until a shrink has started; returns the table bytes at that point. */
    private static long removeUntilAShrinkStarts(ShardedHashMap<Long, Long> map) {
        for (long k = 0; k < ENTRIES; k++) {
            map.putLong(k, k, -1L);
        }
        long tableBytes = map.shardMemoryStats().get(0).tableBytes();
        for (long k = 0; k < ENTRIES; k++) {
            map.removeLong(k, -1L);
            final long now = map.shardMemoryStats().get(0).tableBytes();
            if (now > tableBytes) {
                return now;   // the smaller table is allocated and the large one still drains into it
            }
            tableBytes = now;
        }
        throw new AssertionError("no shrink started");
    }

    @Test
    void withoutWritesAHalfDoneShrinkWaits() throws InterruptedException {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(1)
                .maxPause(Duration.ofNanos(1_000)).build()) {
            final long during = removeUntilAShrinkStarts(map);
            TimeUnit.MILLISECONDS.sleep(100);
            assertEquals(during, map.shardMemoryStats().get(0).tableBytes(), "nothing runs without a write");
            assertTrue(map.compact() > 0, "compact() finishes it");
            assertTrue(map.shardMemoryStats().get(0).tableBytes() < during / 2);
            MapInvariants.checkLive(map);
        }
    }

    @Test
    void theBackgroundAgentFinishesIt() throws InterruptedException {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(1)
                .maxPause(Duration.ofNanos(1_000)).compactInBackground(Duration.ofMillis(1)).build()) {
            final long during = removeUntilAShrinkStarts(map);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (map.shardMemoryStats().get(0).tableBytes() >= during / 2 && System.nanoTime() < deadline) {
                TimeUnit.MILLISECONDS.sleep(5);
            }
            assertTrue(map.shardMemoryStats().get(0).tableBytes() < during / 2, "the agent drained the old table");
            final long size = map.size();
            for (long k = ENTRIES - size; k < ENTRIES; k++) {
                assertEquals(k, map.getLong(k, -1L), "key " + k);
            }
            MapInvariants.checkLive(map);
        }
    }

    @Test
    void invalidSettingsFailFastNamingTheLimit() {
        final ShardedHashMapBuilder<Long, Long> builder = ShardedHashMap.builder(Long.class, Long.class);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> builder.maxPause(Duration.ZERO)).getMessage()
            .contains("between 1 µs and 1 s"));
        assertTrue(assertThrows(IllegalArgumentException.class,
            () -> builder.compactInBackground(Duration.ofHours(2))).getMessage().contains("between 1 ms and 1 h"));
        assertThrows(NullPointerException.class, () -> builder.compactInBackground(null));
    }
}
