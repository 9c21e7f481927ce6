package io.starshard;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-shard memory rows add up to the map's totals, and follow removals and the compaction they cause. */
class ShardMemoryStatsTest {

    @Test
    void rowsAddUpToTheTotalsAndRemovalsGiveArenaMemoryBack() {
        try (ShardedHashMap<Long, byte[]> map = ShardedHashMap.withShards(Long.class, byte[].class, 8)) {
            final SplittableRandom random = new SplittableRandom(3);
            for (long k = 0; k < 20_000; k++) {
                map.put(k, new byte[16 + random.nextInt(600)]);
            }
            assertRowsMatchTotals(map, 8);
            final long[] arenaBefore = map.shardMemoryStats().stream().mapToLong(ShardMemoryStats::arenaBytes).toArray();
            for (long k = 0; k < 20_000; k += 2) {
                map.remove(k);
            }
            assertRowsMatchTotals(map, 8);
            // The removals themselves compacted each shard (a step after a write that left a sixth dead).
            for (ShardMemoryStats row : map.shardMemoryStats()) {
                assertTrue(row.arenaBytes() < arenaBefore[row.shard()], "shard " + row.shard() + " gave memory back: "
                    + arenaBefore[row.shard()] + " -> " + row);
                assertEquals(row.arenaBytes() - row.liveEntryBytes(), row.freeArenaBytes(), row.toString());
            }
            MapInvariants.checkLive(map);
        }
    }

    @Test
    void inlineShardsHaveNoArenaAndUncreatedShardsHoldNothing() {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 64)) {
            map.putLong(42L, 1L, -1L);
            final List<ShardMemoryStats> rows = map.shardMemoryStats();
            assertEquals(64, rows.size());
            long entries = 0;
            int created = 0;
            for (int i = 0; i < rows.size(); i++) {
                final ShardMemoryStats row = rows.get(i);
                assertEquals(i, row.shard());
                assertEquals(0, row.arenaBytes());
                assertEquals(0.0, row.fragmentation());
                entries += row.entries();
                if (row.reservedBytes() > 0) {
                    created++;
                }
            }
            assertEquals(1, entries);
            assertEquals(map.initializedShards(), created, "only created shards hold memory");
            assertEquals(map.memoryStats().tableBytes(), rows.stream().mapToLong(ShardMemoryStats::tableBytes).sum());
        }
    }

    @Test
    void aClosedMapRefuses() {
        final ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 4);
        map.close();
        assertEquals("map is closed", assertThrows(IllegalStateException.class, map::shardMemoryStats).getMessage());
    }

    /** Checks the rows against {@link ShardedHashMap#memoryStats()}; returns the map's fragmentation. */
    private static double assertRowsMatchTotals(ShardedHashMap<?, ?> map, int shards) {
        final List<ShardMemoryStats> rows = map.shardMemoryStats();
        final MemoryStats total = map.memoryStats();
        assertEquals(shards, rows.size());
        long table = 0;
        long arena = 0;
        long live = 0;
        long entries = 0;
        for (ShardMemoryStats row : rows) {
            table += row.tableBytes();
            arena += row.arenaBytes();
            live += row.liveEntryBytes();
            entries += row.entries();
            assertEquals(row.tableBytes() + row.arenaBytes(), row.reservedBytes());
            assertEquals(row.arenaBytes() - row.liveEntryBytes(), row.freeArenaBytes());
            assertTrue(row.fragmentation() >= 0 && row.fragmentation() < 1, row.toString());
        }
        assertEquals(total.tableBytes(), table);
        assertEquals(total.arenaBytes(), arena);
        assertEquals(total.liveEntryBytes(), live);
        assertEquals(total.entries(), entries);
        assertEquals(map.size(), entries);
        assertTrue(table + arena <= total.usedBytes(), "the map's total also holds memory waiting for readers");
        assertEquals(arena - live, total.freeArenaBytes());
        return total.fragmentation();
    }
}
