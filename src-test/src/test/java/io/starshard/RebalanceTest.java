package io.starshard;

import io.starshard.codec.StringCodec;
import org.agrona.ExpandableArrayBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Rebalance against a model: contents, reports and status exact through growing and shrinking to counts that are
 * not powers of two, stop-the-world, stepped with small and large budgets, with writes between the steps, and in
 * the background; and every refusal (bad counts, a second start, a closed map) leaves the map as it was.
 */
class RebalanceTest {
    /** The sequence of shard counts every model test walks through. */
    private static final int[] COUNTS = {1, 64, 7, 1024, 3};

    // ---------------------------------------------------------------------------------------------------------
    // Model tests
    // ---------------------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"stop-the-world", "budget 1", "budget 7", "budget 10000", "background"})
    void longToLongFollowsTheModelThroughEveryCount(String mode) {
        runModel(mode, i -> (long) i, i -> (long) i * 31 + 7, Long.class, Long.class, 16);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"stop-the-world", "budget 7", "budget 10000", "background"})
    void stringToStringFollowsTheModelThroughEveryCount(String mode) {
        runModel(mode, i -> "key-" + i, i -> "value-" + "x".repeat(i % 40) + i, String.class, String.class, -1);
    }

    private static <K, V> void runModel(String mode, IntFunction<K> key, IntFunction<V> value, Class<K> keyType,
                                        Class<V> valueType, int fixedEntryBytes) {
        final int entries = mode.equals("budget 1") ? 600 : 6_000;
        final SplittableRandom rnd = new SplittableRandom(42);
        final Map<K, V> model = new HashMap<>();
        try (ShardedHashMap<K, V> map = ShardedHashMap.<K, V>builder(keyType, valueType).shards(COUNTS[0]).build()) {
            for (int i = 0; i < entries; i++) {
                map.put(key.apply(i), value.apply(i));
                model.put(key.apply(i), value.apply(i));
            }
            for (int round = 1; round < COUNTS.length; round++) {
                final int from = COUNTS[round - 1];
                final int to = COUNTS[round];
                final long expectedBytes = payloadBytes(model, fixedEntryBytes);
                final long moved;
                final long movedBytes;
                if (mode.equals("stop-the-world")) {
                    final RebalanceReport report = map.rebalanceTo(to);
                    assertEquals(from, report.fromShards());
                    assertEquals(to, report.toShards());
                    moved = report.movedEntries();
                    movedBytes = report.movedBytes();
                    assertFalse(report.duration().isNegative());
                } else if (mode.equals("background")) {
                    final List<RebalanceStatus> seen = new CopyOnWriteArrayList<>();
                    map.startRebalanceOnline(to, RebalanceOptions.defaults().background(true).batchSize(64)
                        .maxPause(Duration.ofMillis(1)).progressInterval(Duration.ofNanos(1)).listener(seen::add));
                    assertTrue(map.awaitRebalance(Duration.ofSeconds(60)), "background rebalance finished");
                    awaitFinalReport(seen);
                    final RebalanceStatus last = seen.get(seen.size() - 1);
                    assertEquals(RebalanceStatus.State.IDLE, last.state(), "the listener hears the end");
                    assertEquals(1.0, last.progress());
                    moved = last.movedEntries();
                    movedBytes = last.movedBytes();
                } else {
                    final long budget = Long.parseLong(mode.substring("budget ".length()));
                    final RebalanceStatus started = map.startRebalanceOnline(to);
                    assertEquals(RebalanceStatus.State.MIGRATING, started.state());
                    assertEquals(from, started.fromShards());
                    assertEquals(to, started.toShards());
                    assertEquals(0, started.movedEntries());
                    assertEquals(model.size(), started.remainingEntries());
                    assertEquals(expectedBytes, started.remainingBytes());
                    assertEquals(to, map.shardCount(), "new writes route by the new count at once");
                    assertContents(model, map);
                    long done = 0;
                    RebalanceStatus status = started;
                    while (status.migrating()) {
                        status = map.advanceRebalance(budget);
                        if (status.migrating()) {
                            done += budget;
                            assertEquals(done, status.movedEntries(), "a call moves exactly its budget");
                            assertEquals(model.size() - done, status.remainingEntries());
                            assertEquals((double) done / model.size(), status.progress(), 1e-9);
                        }
                    }
                    moved = status.movedEntries();
                    movedBytes = status.movedBytes();
                    assertEquals(1.0, status.progress());
                    assertEquals(0, status.remainingEntries());
                }
                assertEquals(model.size(), moved, "every entry moved once: " + mode + " " + from + " -> " + to);
                assertEquals(expectedBytes, movedBytes, "bytes moved: " + mode + " " + from + " -> " + to);
                assertEquals(to, map.shardCount());
                final RebalanceStatus idle = map.rebalanceStatus();
                assertEquals(RebalanceStatus.State.IDLE, idle.state());
                assertEquals(from, idle.fromShards());
                assertEquals(to, idle.toShards());
                assertEquals(1.0, idle.progress());
                assertFalse(idle.longestStep().isZero(), "the steps' lock holds are measured");
                assertContents(model, map);
                MapInvariants.checkLive(map);
                randomWrites(map, model, key, value, entries, rnd, 500);
            }
        }
    }

    /** The listener's last call, after the end, may come a moment after the layout changed. */
    private static void awaitFinalReport(List<RebalanceStatus> seen) {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while ((seen.isEmpty() || seen.get(seen.size() - 1).migrating()) && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
    }

    @Test
    void writesBetweenStepsFollowTheModel() {
        final SplittableRandom rnd = new SplittableRandom(7);
        final Map<Long, Long> model = new HashMap<>();
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 5)) {
            for (long i = 0; i < 5_000; i++) {
                map.put(i, i);
                model.put(i, i);
            }
            for (int to : new int[] {13, 2, 97, 1, 40}) {
                map.startRebalanceOnline(to);
                while (map.rebalanceStatus().migrating()) {
                    randomWrites(map, model, i -> (long) i, i -> (long) i * 3, 6_000, rnd, 40);
                    assertContents(model, map);
                    map.advanceRebalance(1 + rnd.nextInt(300));
                }
                MapInvariants.checkLive(map);
                assertContents(model, map);
            }
        }
    }

    @Test
    void everyOperationSeesBothSidesDuringAMigration() {
        try (ShardedHashMap<String, String> map = ShardedHashMap.withShards(String.class, String.class, 4)) {
            for (int i = 0; i < 1000; i++) {
                map.put("k" + i, "v" + i);
            }
            map.startRebalanceOnline(9);
            map.advanceRebalance(500);   // about half moved
            assertTrue(map.rebalanceStatus().migrating());
            assertEquals(1000, map.size());
            assertEquals(1000, map.keySet().size());
            assertEquals(1000, map.keys().size());
            assertEquals(1000, map.entrySet().stream().count());
            assertEquals(1000, map.values().stream().distinct().count());
            assertEquals(1000, java.util.Arrays.stream(map.perShardLoad()).sum());
            assertEquals(1000, map.memoryStats().entries());
            for (int i = 0; i < 1000; i++) {
                final String k = "k" + i;
                assertEquals("v" + i, map.get(k));
                assertTrue(map.containsKey(k));
            }
            assertEquals("v1", map.putIfAbsent("k1", "other"), "putIfAbsent sees a key wherever it is");
            assertFalse(map.replace("k2", "wrong", "x"));
            assertTrue(map.replace("k2", "v2", "x"));
            assertFalse(map.remove("k3", "wrong"));
            assertTrue(map.remove("k3", "v3"));
            assertEquals("v4!", map.computeIfPresent("k4", (k, v) -> v + "!"));
            assertEquals("v5", map.computeIfAbsent("k5", k -> "never"));
            assertEquals("v6v6", map.merge("k6", "v6", String::concat));
            assertNull(map.remove("k3"), "removed stays removed");
            assertEquals(1, map.retain((k, v) -> !k.equals("k7")));
            assertEquals(998, map.size());
            assertTrue(map.containsValue("v8"));
            // 600 keys, about half of them not moved yet: each conditional operation meets both sides.
            for (int i = 100; i < 700; i++) {
                conditionalOperationsActAsWithoutAMigration(map, i);
            }
            assertEquals(898, map.size());
            MapInvariants.checkLive(map);
            map.clear();
            assertEquals(0, map.size());
            assertFalse(map.keySet().iterator().hasNext());
            map.put("after", "clear");
            assertEquals(1, map.size());
            while (map.rebalanceStatus().migrating()) {
                map.advanceRebalance(100);
            }
            assertEquals("clear", map.get("after"));
            MapInvariants.checkLive(map);
        }
    }

    /** One conditional operation, chosen by {@code i}, on the key {@code "k" + i} whose value is {@code "v" + i}. */
    private static void conditionalOperationsActAsWithoutAMigration(ShardedHashMap<String, String> map, int i) {
        final String k = "k" + i;
        final String v = "v" + i;
        switch (i % 6) {
            case 0:
                assertEquals(v, map.putIfAbsent(k, "other"), k);
                break;
            case 1:
                assertFalse(map.replace(k, "wrong", "x"), k);
                assertTrue(map.replace(k, v, "x"), k);
                assertEquals("x", map.get(k), k);
                break;
            case 2:
                assertFalse(map.remove(k, "wrong"), k);
                assertTrue(map.remove(k, v), k);
                assertNull(map.get(k), k);
                assertNull(map.remove(k), k);
                break;
            case 3:
                assertEquals(v + "!", map.computeIfPresent(k, (key, old) -> old + "!"), k);
                break;
            case 4:
                assertEquals(v, map.computeIfAbsent(k, key -> "never"), k);
                break;
            default:
                assertEquals(v + v, map.merge(k, v, String::concat), k);
                break;
        }
    }

    @Test
    void awaitRebalanceReturnsAfterTheListenersLastReport() {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 4)) {
            for (long k = 0; k < 20_000; k++) {
                map.putLong(k, k, -1L);
            }
            final List<RebalanceStatus> reports = new CopyOnWriteArrayList<>();
            map.startRebalanceOnline(32, RebalanceOptions.defaults().background(true).batchSize(64)
                .listener(status -> {
                    if (!status.migrating()) {
                        sleepQuietly(200);   // a slow last report: awaitRebalance must still wait for it
                    }
                    reports.add(status);
                }));
            assertTrue(map.awaitRebalance(Duration.ofSeconds(30)));
            final int seen = reports.size();
            assertTrue(seen > 0, "the listener was called");
            final RebalanceStatus last = reports.get(seen - 1);
            assertFalse(last.migrating(), "the last report before awaitRebalance returned is the final one: " + last);
            assertEquals(20_000, last.movedEntries());
            sleepQuietly(100);
            assertEquals(seen, reports.size(), "no report after awaitRebalance returned");
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void readsOfAbsentKeysCreateNoShardDuringAMigration() {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 2)) {
            map.put(1L, 1L);
            map.startRebalanceOnline(64);
            final int before = map.initializedShards();
            for (long k = 100; k < 10_000; k++) {
                assertNull(map.get(k));
                assertFalse(map.containsKey(k));
                assertEquals(-1L, map.getLong(k, -1L));
                assertNull(map.remove(k));
            }
            assertEquals(before, map.initializedShards());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Refusals
    // ---------------------------------------------------------------------------------------------------------

    @Test
    void countsAreValidatedLikeTheConstructorsAndTheCapIsRemembered() {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShardsAndCap(Long.class, Long.class, 8, 100)) {
            map.put(1L, 1L);
            final ShardCountException tooMany = assertThrows(ShardCountException.class, () -> map.rebalanceTo(101));
            assertEquals(101, tooMany.requested());
            assertEquals(100, tooMany.maxAllowed());
            assertThrows(ShardCountException.class, () -> map.startRebalanceOnline(-1));
            assertEquals(8, map.shardCount(), "a refused count changes nothing");
            final RebalanceReport same = map.rebalanceTo(8);
            assertEquals(8, same.fromShards());
            assertEquals(8, same.toShards());
            assertEquals(0, same.movedEntries());
            assertEquals(RebalanceStatus.State.IDLE, map.startRebalanceOnline(8).state());
            assertThrows(IllegalArgumentException.class, () -> map.advanceRebalance(0));
            assertEquals(64, map.rebalanceTo(0).toShards(), "0 means the default of 64, within the cap");
            assertEquals(1L, map.get(1L));
        }
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShardsAndCap(Long.class, Long.class, 8, 50)) {
            final ShardCountException defaultTooMany = assertThrows(ShardCountException.class,
                () -> map.rebalanceTo(0));
            assertEquals(64, defaultTooMany.requested());
            assertEquals(50, defaultTooMany.maxAllowed());
        }
    }

    @Test
    void aSecondStartIsRefusedNamingTheRunningOneAndChangesNothing() {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 4)) {
            for (long i = 0; i < 1000; i++) {
                map.put(i, i);
            }
            map.startRebalanceOnline(16);
            map.advanceRebalance(10);
            final RebalanceStatus before = map.rebalanceStatus();
            final IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> map.startRebalanceOnline(32));
            assertTrue(e.getMessage().contains("from 4 to 16"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> map.rebalanceTo(2));
            assertEquals(before, map.rebalanceStatus());
            assertEquals(16, map.shardCount());
            while (map.rebalanceStatus().migrating()) {
                map.advanceRebalance(1000);
            }
            assertEquals(1000, map.size());
            MapInvariants.checkLive(map);
        }
    }

    @Test
    void aClosedMapRefusesEveryRebalanceCall() {
        final ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 4);
        map.put(1L, 1L);
        map.close();
        for (Runnable call : List.<Runnable>of(() -> map.rebalanceTo(8), () -> map.startRebalanceOnline(8),
                () -> map.advanceRebalance(1), map::rebalanceStatus, () -> map.awaitRebalance(Duration.ZERO),
                () -> map.rebalanceTo(-5))) {
            final IllegalStateException e = assertThrows(IllegalStateException.class, call::run);
            assertEquals("map is closed", e.getMessage());
        }
    }

    @Test
    void closingDuringABackgroundRebalanceFreesEverything() throws InterruptedException {
        for (int round = 0; round < 5; round++) {
            final ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 3);
            for (long i = 0; i < 50_000; i++) {
                map.put(i, i);
            }
            map.startRebalanceOnline(200, RebalanceOptions.defaults().background(true).batchSize(16));
            Thread.sleep(round);
            map.close();
            assertEquals(0, map.memoryStats().usedBytes(), "close freed every shard, old and new");
            assertThrows(IllegalStateException.class, map::rebalanceStatus);
        }
    }

    @Test
    void aRebalanceRacingCloseEndsInAClearExceptionOrCompletes() throws InterruptedException {
        for (int round = 0; round < 10; round++) {
            final ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 2);
            for (long i = 0; i < 20_000; i++) {
                map.put(i, i);
            }
            final List<Throwable> failures = new ArrayList<>();
            final Thread rebalancer = new Thread(() -> {
                try {
                    map.rebalanceTo(300);
                } catch (IllegalStateException e) {
                    if (!e.getMessage().equals("map is closed")) {
                        failures.add(e);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            rebalancer.start();
            Thread.sleep(round % 3);
            map.close();
            rebalancer.join(30_000);
            assertFalse(rebalancer.isAlive());
            assertTrue(failures.isEmpty(), failures.toString());
            assertEquals(0, map.memoryStats().usedBytes());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    private static <K, V> void randomWrites(ShardedHashMap<K, V> map, Map<K, V> model, IntFunction<K> key,
                                            IntFunction<V> value, int keySpace, SplittableRandom rnd, int count) {
        for (int n = 0; n < count; n++) {
            final int i = rnd.nextInt(keySpace);
            final K k = key.apply(i);
            final V v = value.apply(rnd.nextInt(keySpace));
            switch (rnd.nextInt(5)) {
                case 0 -> assertEquals(model.put(k, v), map.put(k, v));
                case 1 -> assertEquals(model.remove(k), map.remove(k));
                case 2 -> assertEquals(model.putIfAbsent(k, v), map.putIfAbsent(k, v));
                case 3 -> assertEquals(model.replace(k, v), map.replace(k, v));
                default -> assertEquals(model.get(k), map.get(k));
            }
        }
    }

    private static <K, V> void assertContents(Map<K, V> model, ShardedHashMap<K, V> map) {
        assertEquals(model.size(), map.size());
        for (Map.Entry<K, V> e : model.entrySet()) {
            assertEquals(e.getValue(), map.get(e.getKey()), "key " + e.getKey());
        }
        final Map<K, V> copy = new HashMap<>();
        map.forEach((k, v) -> assertNull(copy.put(k, v), "iteration saw " + k + " twice"));
        assertEquals(model, copy);
    }

    /** Key plus value bytes of the model's entries as the built-in codecs encode them. */
    private static <K, V> long payloadBytes(Map<K, V> model, int fixedEntryBytes) {
        if (fixedEntryBytes > 0) {
            return (long) model.size() * fixedEntryBytes;
        }
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(64);
        long bytes = 0;
        for (Map.Entry<K, V> e : model.entrySet()) {
            bytes += StringCodec.INSTANCE.encode((String) e.getKey(), buffer, 0, 1 << 20);
            bytes += StringCodec.INSTANCE.encode((String) e.getValue(), buffer, 0, 1 << 20);
        }
        return bytes;
    }
}
