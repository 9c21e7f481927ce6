package io.starshard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What each {@link SnapshotMode} promises: the contents of the map at a quiescent point, immune to later writes,
 * readable as a map; and what it costs, read from {@link SnapshotStats}: {@code CACHED} copies only changed
 * shards, {@code COW} copies only shards written after the snapshot; versioned snapshots return their version's
 * data.
 */
class SnapshotTest {
    private static final int SHARDS = 16;

    private static ShardedHashMap<Long, String> map(SnapshotMode mode) {
        return ShardedHashMap.<Long, String>builder(Long.class, String.class).shards(SHARDS).hashSeed(42)
            .snapshotMode(mode).retainVersions(3).build();
    }

    private static Map<Long, String> fill(ShardedHashMap<Long, String> map, int n, String tag) {
        final Map<Long, String> model = new HashMap<>();
        for (long k = 0; k < n; k++) {
            map.put(k, tag + k);
            model.put(k, tag + k);
        }
        return model;
    }

    private static void assertSnapshotEquals(Map<Long, String> expected, MapSnapshot<Long, String> snapshot) {
        assertEquals(expected.size(), snapshot.size());
        assertEquals(expected.size(), snapshot.mappingCount());
        assertEquals(expected, snapshot.toMap());
        assertEquals(expected, snapshot);   // Map.equals over the entry set
        for (Map.Entry<Long, String> e : expected.entrySet()) {
            assertEquals(e.getValue(), snapshot.get(e.getKey()), "get(" + e.getKey() + ")");
        }
        assertNull(snapshot.get(-1L));
        assertNull(snapshot.get("not a long"));
        final Set<Long> seen = new HashSet<>();
        snapshot.forEach((k, v) -> assertTrue(seen.add(k), "key " + k + " seen twice"));
        assertEquals(expected.keySet(), seen);
        assertEquals(expected, snapshot.parallelStream().collect(Collectors.toMap(Map.Entry::getKey,
            Map.Entry::getValue)));
        assertEquals(expected.size(), snapshot.stream().count());
    }

    @ParameterizedTest
    @EnumSource(SnapshotMode.class)
    void aSnapshotHoldsTheMapAsItWasAndLaterWritesDoNotShow(SnapshotMode mode) {
        try (ShardedHashMap<Long, String> map = map(mode)) {
            final Map<Long, String> before = fill(map, 20_000, "a");
            try (MapSnapshot<Long, String> snapshot = map.snapshot()) {
                assertEquals(mode, snapshot.mode());
                assertSnapshotEquals(before, snapshot);
                for (long k = 0; k < 20_000; k += 3) {
                    map.put(k, "b" + k);
                }
                for (long k = 1; k < 20_000; k += 3) {
                    map.remove(k);
                }
                map.put(99_999L, "new");
                map.compute(2L, (k, v) -> v + "!");
                assertSnapshotEquals(before, snapshot);
                map.clear();
                assertSnapshotEquals(before, snapshot);
            }
            assertEquals(0, map.snapshotStats().imageBytes() - cachedBytes(map, mode),
                "closing the snapshot freed its copies");
        }
    }

    /** {@code CACHED} keeps one copy per shard on purpose; the other modes keep nothing once snapshots close. */
    private static long cachedBytes(ShardedHashMap<?, ?> map, SnapshotMode mode) {
        return mode == SnapshotMode.CACHED ? map.snapshotStats().imageBytes() : 0;
    }

    @ParameterizedTest
    @EnumSource(SnapshotMode.class)
    void aSnapshotOutlivesTheMap(SnapshotMode mode) {
        final ShardedHashMap<Long, String> map = map(mode);
        final Map<Long, String> before = fill(map, 5_000, "x");
        final MapSnapshot<Long, String> snapshot = map.snapshot();
        map.close();
        assertSnapshotEquals(before, snapshot);
        snapshot.close();
        assertEquals(0, map.snapshotStats().imageBytes(), "every copy freed");
        assertThrows(IllegalStateException.class, map::snapshot);
    }

    @ParameterizedTest
    @EnumSource(SnapshotMode.class)
    void aClosedSnapshotRefusesEveryRead(SnapshotMode mode) {
        try (ShardedHashMap<Long, String> map = map(mode)) {
            fill(map, 100, "x");
            final MapSnapshot<Long, String> snapshot = map.snapshot();
            snapshot.close();
            snapshot.close();   // idempotent
            assertTrue(snapshot.isClosed());
            assertThrows(IllegalStateException.class, () -> snapshot.get(1L));
            assertThrows(IllegalStateException.class, snapshot::size);
            assertThrows(IllegalStateException.class, () -> snapshot.entrySet().iterator());
            assertThrows(IllegalStateException.class, snapshot::toMap);
            assertThrows(UnsupportedOperationException.class, () -> map.snapshot().put(1L, "y"));
        }
    }

    @ParameterizedTest
    @EnumSource(SnapshotMode.class)
    void aSnapshotOfAnEmptyMapCreatesNoShard(SnapshotMode mode) {
        try (ShardedHashMap<Long, String> map = map(mode); MapSnapshot<Long, String> snapshot = map.snapshot()) {
            assertEquals(0, snapshot.size());
            assertNull(snapshot.get(1L));
            assertFalse(snapshot.entrySet().iterator().hasNext());
            assertEquals(0, map.initializedShards());
        }
    }

    @Test
    void cachedCopiesOnlyTheShardsThatChanged() {
        try (ShardedHashMap<Long, String> map = map(SnapshotMode.CACHED)) {
            fill(map, 10_000, "x");
            assertEquals(SHARDS, map.initializedShards());
            map.snapshot().close();
            final SnapshotStats first = map.snapshotStats();
            assertEquals(SHARDS, first.shardCopies());
            map.snapshot().close();
            final SnapshotStats unchanged = map.snapshotStats();
            assertEquals(SHARDS, unchanged.shardCopies(), "nothing changed: nothing copied");
            assertEquals(SHARDS, unchanged.reusedCopies());
            map.put(7L, "changed");   // one shard
            try (MapSnapshot<Long, String> snapshot = map.snapshot()) {
                final SnapshotStats oneChanged = map.snapshotStats();
                assertEquals(SHARDS + 1, oneChanged.shardCopies(), "only the written shard is copied again");
                assertEquals(2 * SHARDS - 1, oneChanged.reusedCopies());
                assertEquals("changed", snapshot.get(7L));
                assertEquals("x8", snapshot.get(8L));
            }
        }
    }

    @Test
    void cowCopiesNothingWhenTakenAndThenOnlyTheShardsWritten() {
        try (ShardedHashMap<Long, String> map = map(SnapshotMode.COW)) {
            final Map<Long, String> before = fill(map, 10_000, "x");
            final MapSnapshot<Long, String> snapshot = map.snapshot();
            try {
                assertEquals(0, map.snapshotStats().shardCopies(), "taking a COW snapshot copies nothing");
                assertEquals("x5", snapshot.get(5L), "read live, not copied");
                assertEquals(0, map.snapshotStats().shardCopies());
                map.put(5L, "y");
                assertEquals(1, map.snapshotStats().copiesOnWrite(), "the first write copies its shard");
                map.put(5L, "z");
                map.remove(5L);
                assertEquals(1, map.snapshotStats().copiesOnWrite(), "later writes to that shard copy nothing");
                assertEquals("x5", snapshot.get(5L));
                // A second snapshot shares the pending copies of the shards still unwritten.
                try (MapSnapshot<Long, String> second = map.snapshot()) {
                    map.put(6L, "w");
                    assertEquals("x6", snapshot.get(6L));
                    assertEquals("w", map.get(6L));
                    assertEquals("x6", second.get(6L));
                    assertNull(second.get(5L));
                }
                assertSnapshotEquals(before, snapshot);   // iteration copies what no write copied
                final long copies = map.snapshotStats().shardCopies();
                snapshot.close();
                map.put(5L, "after");   // no snapshot holds the shard: no copy
                assertEquals(copies, map.snapshotStats().shardCopies());
            } finally {
                snapshot.close();
            }
            assertEquals(0, map.snapshotStats().imageBytes(), "all copies freed");
        }
    }

    @ParameterizedTest
    @EnumSource(SnapshotMode.class)
    void versionedSnapshotsReturnTheirOwnData(SnapshotMode mode) {
        try (ShardedHashMap<Long, String> map = map(mode)) {
            final Map<Long, Map<Long, String>> states = new HashMap<>();
            final Map<Long, String> model = new HashMap<>();
            long plain = -1;
            for (int round = 0; round < 5; round++) {
                for (long k = 0; k < 2_000; k++) {
                    if ((k + round) % 4 == 0) {
                        map.put(k, "r" + round + "k" + k);
                        model.put(k, "r" + round + "k" + k);
                    }
                }
                try (MapSnapshot<Long, String> s = map.versionedSnapshot()) {
                    states.put(s.version(), new HashMap<>(model));
                }
                if (round == 2) {
                    try (MapSnapshot<Long, String> s = map.snapshot()) {
                        plain = s.version();
                    }
                }
            }
            assertEquals(3, map.snapshotStats().retainedVersions());
            final long newest = map.snapshotStats().latestVersion();
            int found = 0;
            for (Map.Entry<Long, Map<Long, String>> state : states.entrySet()) {
                final Optional<MapSnapshot<Long, String>> at = map.snapshotAtVersion(state.getKey());
                if (at.isPresent()) {
                    found++;
                    try (MapSnapshot<Long, String> s = at.get()) {
                        assertEquals(state.getKey().longValue(), s.version());
                        assertSnapshotEquals(state.getValue(), s);
                    }
                }
            }
            assertEquals(3, found, "the three latest versions are retained");
            assertTrue(map.snapshotAtVersion(plain).isEmpty(), "a plain snapshot is not retained");
            assertTrue(map.snapshotAtVersion(newest + 1).isEmpty());
            assertTrue(map.snapshotAtVersion(-5).isEmpty());
        }
    }

    @ParameterizedTest
    @EnumSource(SnapshotMode.class)
    void aSnapshotDuringAnOnlineRebalanceHasEveryKeyOnce(SnapshotMode mode) {
        try (ShardedHashMap<Long, String> map = map(mode)) {
            final Map<Long, String> model = fill(map, 30_000, "v");
            map.startRebalanceOnline(40, RebalanceOptions.defaults().batchSize(500));
            int steps = 0;
            while (map.rebalanceStatus().state() == RebalanceStatus.State.MIGRATING) {
                try (MapSnapshot<Long, String> snapshot = map.snapshot()) {
                    if (steps % 5 == 0) {
                        assertSnapshotEquals(model, snapshot);
                    } else {
                        assertEquals(model.size(), snapshot.size());
                    }
                    final long k = steps * 7L % 30_000;
                    map.put(k, "w" + steps);   // written after the snapshot: not in it
                    assertEquals(model.get(k), snapshot.get(k));
                    model.put(k, "w" + steps);
                }
                map.advanceRebalance(1_000);
                steps++;
            }
            assertTrue(steps > 3, "the rebalance took several steps: " + steps);
            try (MapSnapshot<Long, String> after = map.snapshot()) {
                assertSnapshotEquals(model, after);
            }
        }
    }

    @Test
    void aCowSnapshotTakenBeforeARebalanceStaysExact() {
        try (ShardedHashMap<Long, String> map = map(SnapshotMode.COW)) {
            final Map<Long, String> before = fill(map, 20_000, "v");
            try (MapSnapshot<Long, String> snapshot = map.snapshot()) {
                map.rebalanceTo(7);
                for (long k = 0; k < 20_000; k += 2) {
                    map.remove(k);
                }
                assertSnapshotEquals(before, snapshot);
            }
        }
    }

    @Test
    void aForgottenSnapshotIsFreedByTheCleaner() throws InterruptedException {
        try (ShardedHashMap<Long, String> map = map(SnapshotMode.CLONE)) {
            fill(map, 10_000, "x");
            takeAndForget(map);
            assertTrue(map.snapshotStats().imageBytes() > 0);
            for (int i = 0; i < 500 && map.snapshotStats().imageBytes() > 0; i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertEquals(0, map.snapshotStats().imageBytes(), "the cleaner freed the unreachable snapshot's copies");
        }
    }

    @SuppressWarnings("resource")
    private static void takeAndForget(ShardedHashMap<Long, String> map) {
        assertEquals(10_000, map.snapshot().size());
    }

    @Test
    void theModeComesFromTheBuilderOrTheFactories() {
        try (ShardedHashMap<Long, Long> a = ShardedHashMap.create(Long.class, Long.class);
             ShardedHashMap<Long, Long> b = ShardedHashMap.create(Long.class, Long.class, SnapshotMode.COW);
             ShardedHashMap<Long, Long> c = ShardedHashMap.withShards(Long.class, Long.class, 4, SnapshotMode.CACHED)) {
            assertEquals(SnapshotMode.CLONE, a.snapshotMode());
            assertEquals(SnapshotMode.COW, b.snapshotMode());
            assertEquals(SnapshotMode.CACHED, c.snapshotMode());
            assertEquals(4, c.shardCount());
        }
        assertThrows(IllegalArgumentException.class,
            () -> ShardedHashMap.builder(Long.class, Long.class).retainVersions(-1));
        assertThrows(NullPointerException.class,
            () -> ShardedHashMap.builder(Long.class, Long.class).snapshotMode(null));
    }

    @Test
    void liveParallelStreamsSeeEveryEntryOnce() {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 8)) {
            long sum = 0;
            for (long k = 0; k < 100_000; k++) {
                map.put(k, k * 3);
                sum += k * 3;
            }
            assertEquals(sum, map.entrySet().parallelStream().mapToLong(Map.Entry::getValue).sum());
            assertEquals(100_000, map.keySet().parallelStream().distinct().count());
            assertEquals(sum, map.values().parallelStream().mapToLong(Long::longValue).sum());
            assertTrue(map.entrySet().spliterator().trySplit() != null, "the live spliterator splits");
            try (MapSnapshot<Long, Long> snapshot = map.snapshot()) {
                assertTrue(snapshot.entrySet().spliterator().trySplit() != null, "the snapshot's spliterator splits");
                assertEquals(sum, snapshot.parallelStream().mapToLong(Map.Entry::getValue).sum());
            }
        }
    }
}
