package io.starshard;

import io.starshard.offheap.OffHeapMemoryExhaustedException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A rebalance meets a full memory budget: at its start (the new shards do not fit) or in a step (an entry's
 * new shard or its bytes there do not fit). Each time the caller gets the budget's exception, no entry is lost
 * or duplicated, the map stays usable, and closing it gives every byte back.
 */
class RebalanceBudgetTest {
    private static final int VALUE_BYTES = 60_000;
    /** Values that are packed into the arena's chunks with others (not given a chunk of their own). */
    private static final int PACKED_VALUE_BYTES = 3_000;

    @Test
    void aStartThatDoesNotFitTheBudgetChangesNothing() {
        final int entries = 20_000;
        final long used;
        // Presized with room to spare, so that loading never grows a table: the same load always uses the same bytes.
        try (ShardedHashMap<Long, Long> probe = ShardedHashMap.builder(Long.class, Long.class).shards(2)
                .expectedEntries(2 * entries).build()) {
            load(probe, entries);
            used = probe.memoryStats().usedBytes();
        }
        // The same map under a budget with 4 KiB to spare besides the compaction reserve (a 64th of the budget):
        // 4,096 new shards' tables cannot fit in it.
        final long budget = (used + 4096) * 64 / 63 + 64;
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(2)
                .expectedEntries(2 * entries).memoryBudget(budget).build()) {
            load(map, entries);
            final long before = map.memoryStats().usedBytes();
            final OffHeapMemoryExhaustedException e = assertThrows(OffHeapMemoryExhaustedException.class,
                () -> map.startRebalanceOnline(4096));
            assertTrue(e.getMessage().contains("budget"), e.getMessage());
            assertFalse(map.rebalanceStatus().migrating(), "nothing started");
            assertEquals(2, map.shardCount());
            assertEquals(before, map.memoryStats().usedBytes(), "the shards created for it were given back");
            for (long k = 0; k < entries; k++) {
                assertEquals(k * 3, map.getLong(k, -1L));
            }
            MapInvariants.checkLive(map);
            map.putLong(7, 8, -1L);   // still writable where no memory is needed
            assertEquals(8, map.getLong(7, -1L));
            assertEquals(entries, map.size());
        }
    }

    private static void load(ShardedHashMap<Long, Long> map, int entries) {
        for (long k = 0; k < entries; k++) {
            map.putLong(k, k * 3, -1L);
        }
    }

    @Test
    void aStepThatDoesNotFitTheBudgetThrowsAndLeavesEveryEntryReadable() {
        final ShardedHashMap<Long, byte[]> map = ShardedHashMap.builder(Long.class, byte[].class).shards(2)
            .memoryBudget(2L << 20).build();
        final Map<Long, byte[]> model = fillUntilRefused(map, PACKED_VALUE_BYTES);
        // A quarter goes and compaction gives its memory back: room for part of the move, not all of it (the
        // previous shards' chunks empty only as their last entries leave, while the new shards' chunks fill).
        final int filled = model.size();
        for (long k = 0; k < filled; k += 4) {
            assertNotNull(map.remove(k));
            model.remove(k);
        }
        assertTrue(map.compact() > 0);
        map.startRebalanceOnline(64);
        final OffHeapMemoryExhaustedException e = assertThrows(OffHeapMemoryExhaustedException.class, () -> {
            while (map.rebalanceStatus().migrating()) {
                map.advanceRebalance(1);
            }
        });
        assertTrue(e.getMessage().contains("budget"), e.getMessage());
        assertTrue(map.rebalanceStatus().migrating(), "the rebalance waits for memory; it is not lost");
        assertContents(model, map);
        MapInvariants.checkLive(map);
        // Writes meanwhile: one that must move its key into a shard without room is refused and changes
        // nothing; the others land.
        int refused = 0;
        for (long k : new java.util.ArrayList<>(model.keySet())) {
            final byte[] value = model.get(k).clone();
            value[0] = (byte) ~value[0];
            try {
                map.put(k, value);
                model.put(k, value);
            } catch (OffHeapMemoryExhaustedException refusal) {
                refused++;
            }
        }
        assertTrue(refused < model.size(), "keys already moved are rewritten in place");
        assertContents(model, map);
        MapInvariants.checkLive(map);
        MapInvariants.checkClearAndClose(map);
    }

    @Test
    void aBackgroundRebalanceThatMeetsTheBudgetStopsAndCanBeAdvancedLater() {
        final ShardedHashMap<Long, byte[]> map = ShardedHashMap.builder(Long.class, byte[].class).shards(2)
            .memoryBudget(2L << 20).build();
        final Map<Long, byte[]> model = fillUntilRefused(map, VALUE_BYTES);
        map.startRebalanceOnline(64, RebalanceOptions.defaults().background(true));
        assertFalse(map.awaitRebalance(Duration.ofMillis(300)), "the background thread stopped at the budget");
        assertTrue(map.rebalanceStatus().migrating());
        assertContents(model, map);
        assertEquals(map.rebalanceStatus().movedEntries() + map.rebalanceStatus().remainingEntries(), model.size());
        map.close();
        assertEquals(0, map.memoryStats().usedBytes(), "close freed both shard arrays");
    }

    /** Puts keys 0, 1, ... with values of {@code valueBytes} until the budget refuses one; returns what is stored. */
    private static Map<Long, byte[]> fillUntilRefused(ShardedHashMap<Long, byte[]> map, int valueBytes) {
        final Map<Long, byte[]> model = new HashMap<>();
        for (long k = 0; ; k++) {
            final byte[] value = new byte[valueBytes];
            Arrays.fill(value, (byte) k);
            try {
                map.put(k, value);
            } catch (OffHeapMemoryExhaustedException e) {
                assertEquals(model.size(), map.size(), "a refused put stores nothing");
                return model;
            }
            model.put(k, value);
        }
    }

    private static void assertContents(Map<Long, byte[]> model, ShardedHashMap<Long, byte[]> map) {
        assertEquals(model.size(), map.size());
        final int[] seen = {0};
        map.forEach((k, v) -> {
            assertArrayEquals(model.get(k), v, "key " + k);
            seen[0]++;
        });
        assertEquals(model.size(), seen[0], "iteration sees each key once");
        for (Map.Entry<Long, byte[]> e : model.entrySet()) {
            assertArrayEquals(e.getValue(), map.get(e.getKey()), "key " + e.getKey());
        }
    }
}
