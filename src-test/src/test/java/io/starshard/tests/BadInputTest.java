package io.starshard.tests;

import io.starshard.BatchWriteException;
import io.starshard.ShardCountException;
import io.starshard.ShardedHashMap;
import io.starshard.codec.Codec;
import io.starshard.codec.CodecException;
import io.starshard.codec.StringCodec;
import io.starshard.offheap.EntryTooLargeException;
import io.starshard.offheap.OffHeapMemoryExhaustedException;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.time.Duration;
import java.util.AbstractMap.SimpleEntry;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** What the map does with input it must refuse, with resources that run out, and after close. */
class BadInputTest {
    private static final Duration DEADLOCK_TIMEOUT = Duration.ofSeconds(10);

    // ================================================================================================ nulls

    @Test
    void nullKeysAndValuesThrowNpeAndChangeNothing() {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.create(Long.class, Long.class)) {
            map.put(1L, 1L);
            assertThrows(NullPointerException.class, () -> map.put(null, 1L));
            assertThrows(NullPointerException.class, () -> map.put(2L, null));
            assertThrows(NullPointerException.class, () -> map.get(null));
            assertThrows(NullPointerException.class, () -> map.merge(1L, null, Long::sum));
            assertThrows(NullPointerException.class, () -> map.compute(1L, null));
            assertEquals(Map.of(1L, 1L), new HashMap<>(map));
        }
    }

    // ================================================================================================ shard counts

    @Test
    void getLongsRefusesNullArraysAndRangesOutsideThemNamingBoth() {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(4).build()) {
            map.putLong(1, 10, -1);
            final long[] values = {5, 5, 5};
            assertEquals("keys", assertThrows(NullPointerException.class,
                () -> map.getLongs(null, values, 0, 1, -1)).getMessage());
            assertEquals("values", assertThrows(NullPointerException.class,
                () -> map.getLongs(new long[1], null, 0, 1, -1)).getMessage());
            final long[] keys = {1, 1, 1, 1};
            final int[][] ranges = {{-1, 1}, {0, -1}, {0, 4}, {3, 1}, {4, 0}, {Integer.MAX_VALUE, 2}};
            for (int[] r : ranges) {
                final IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                    () -> map.getLongs(keys, values, r[0], r[1], -1), "offset " + r[0] + ", length " + r[1]);
                assertEquals("offset " + r[0] + " and length " + r[1] + " must lie inside keys (length 4) and"
                    + " values (length 3)", e.getMessage());
            }
            assertArrayEquals(new long[] {5, 5, 5}, values, "a refused batch writes nothing");
            map.getLongs(keys, values, 3, 0, -1);   // an empty range at the end of the shorter array is fine
            map.getLongs(keys, values, 0, 3, -1);
            assertArrayEquals(new long[] {10, 10, 10}, values);
        }
    }

    @Test
    void zeroShardsMeansTheDefault() {
        try (ShardedHashMap<Long, Long> a = ShardedHashMap.withShards(Long.class, Long.class, 0);
             ShardedHashMap<Long, Long> b = ShardedHashMap.tryWithShards(Long.class, Long.class, 0);
             ShardedHashMap<Long, Long> c = ShardedHashMap.create(Long.class, Long.class, 0);
             ShardedHashMap<Long, Long> d = ShardedHashMap.builder(Long.class, Long.class).shards(0).build()) {
            assertEquals(64, ShardedHashMap.DEFAULT_SHARDS);
            assertEquals(64, a.shardCount());
            assertEquals(64, b.shardCount());
            assertEquals(64, c.shardCount());
            assertEquals(64, d.shardCount());
        }
    }

    @Test
    void negativeShardCountsAreRefusedEverywhere() {
        for (int shards : new int[] {-1, -64, Integer.MIN_VALUE}) {
            final ShardCountException clamping = assertThrows(ShardCountException.class,
                () -> ShardedHashMap.withShards(Long.class, Long.class, shards));
            assertEquals(shards, clamping.requested());
            final ShardCountException strict = assertThrows(ShardCountException.class,
                () -> ShardedHashMap.tryWithShards(Long.class, Long.class, shards));
            assertEquals(shards, strict.requested());
            assertEquals(ShardedHashMap.MAX_SHARDS, strict.maxAllowed());
            assertTrue(strict.getMessage().contains(Integer.toString(shards)), strict.getMessage());
            assertThrows(ShardCountException.class,
                () -> ShardedHashMap.builder(Long.class, Long.class).shards(shards).build());
        }
    }

    @Test
    void countsAboveTheMaximumClampOrThrow() {
        assertEquals(262_144, ShardedHashMap.MAX_SHARDS);
        for (int shards : new int[] {262_145, 1_000_000, Integer.MAX_VALUE}) {
            try (ShardedHashMap<Long, Long> clamped = ShardedHashMap.withShards(Long.class, Long.class, shards)) {
                assertEquals(262_144, clamped.shardCount());
                assertEquals(0, clamped.initializedShards());
                clamped.put(1L, 2L);
                assertEquals(2L, clamped.get(1L));
            }
            final ShardCountException e = assertThrows(ShardCountException.class,
                () -> ShardedHashMap.tryWithShards(Long.class, Long.class, shards));
            assertEquals(shards, e.requested());
            assertEquals(262_144, e.maxAllowed());
            assertTrue(e.getMessage().contains(Integer.toString(shards)) && e.getMessage().contains("262144"),
                e.getMessage());
        }
        try (ShardedHashMap<Long, Long> exact = ShardedHashMap.tryWithShards(Long.class, Long.class, 262_144)) {
            assertEquals(262_144, exact.shardCount());
        }
    }

    @Test
    void capsAreAtLeastOneAndBoundTheCount() {
        try (ShardedHashMap<Long, Long> m = ShardedHashMap.withShardsAndCap(Long.class, Long.class, 100, 10)) {
            assertEquals(10, m.shardCount());
            assertEquals(10, m.maxShards());
        }
        try (ShardedHashMap<Long, Long> m = ShardedHashMap.withShardsAndCap(Long.class, Long.class, 0, 0)) {
            assertEquals(1, m.shardCount(), "cap max(0, 1) = 1 clamps the default 64");
        }
        try (ShardedHashMap<Long, Long> m = ShardedHashMap.withShardsAndCap(Long.class, Long.class, 5, -3)) {
            assertEquals(1, m.shardCount());
        }
        final ShardCountException e = assertThrows(ShardCountException.class,
            () -> ShardedHashMap.tryWithShardsAndCap(Long.class, Long.class, 0, 10));
        assertEquals(64, e.requested(), "0 is replaced by the default before the check");
        assertEquals(10, e.maxAllowed());
        final ShardCountException one = assertThrows(ShardCountException.class,
            () -> ShardedHashMap.tryWithShardsAndCap(Long.class, Long.class, 2, 0));
        assertEquals(1, one.maxAllowed());
        try (ShardedHashMap<Long, Long> m = ShardedHashMap.tryWithShardsAndCap(Long.class, Long.class, 10, 10)) {
            assertEquals(10, m.shardCount());
        }
        assertThrows(ShardCountException.class,
            () -> ShardedHashMap.builder(Long.class, Long.class).maxShards(262_145));
        assertThrows(ShardCountException.class,
            () -> ShardedHashMap.builder(Long.class, Long.class).maxShards(8).shards(9).build());
    }

    // ================================================================================================ entry size

    private static ShardedHashMap<String, String> smallEntries() {
        return ShardedHashMap.builder(String.class, String.class).shards(4).maxEntryBytes(64).build();
    }

    @Test
    void oversizedEntryNamesBothSizesAndChangesNothing() {
        try (ShardedHashMap<String, String> map = smallEntries()) {
            map.put("k", "v");
            final String big = "x".repeat(100);
            final EntryTooLargeException e = assertThrows(EntryTooLargeException.class, () -> map.put("k", big));
            assertEquals(101, e.entryBytes(), "key 1 + value 100 bytes");
            assertEquals(64, e.maxEntryBytes());
            assertTrue(e.getMessage().contains("101") && e.getMessage().contains("64"), e.getMessage());
            final List<Executable> writes = List.of(() -> map.put("new", big), () -> map.putIfAbsent("new", big),
                () -> map.replace("k", big), () -> map.replace("k", "v", big), () -> map.compute("k", (k, v) -> big),
                () -> map.computeIfAbsent("new", k -> big), () -> map.computeIfPresent("k", (k, v) -> big),
                () -> map.merge("k", "w", (a, b) -> big), () -> map.merge("new", big, (a, b) -> a),
                () -> map.set("k", big));
            for (Executable write : writes) {
                assertThrows(EntryTooLargeException.class, write);
            }
            assertEquals(Map.of("k", "v"), new HashMap<>(map));
            map.put("k", "y".repeat(63));   // exactly 64 bytes fits
            assertEquals(63, map.get("k").length());
        }
    }

    @Test
    void oversizedKeyReportsItsRealSize() {
        try (ShardedHashMap<String, String> map = smallEntries()) {
            final EntryTooLargeException e = assertThrows(EntryTooLargeException.class,
                () -> map.put("k".repeat(300), "v"));
            assertEquals(300, e.entryBytes(), "the key's real size, not the limit + 1");
            assertEquals(64, e.maxEntryBytes());
            assertTrue(e.getMessage().contains("300") && e.getMessage().contains("64"), e.getMessage());
            // Multi-byte characters: 200 chars of 3 UTF-8 bytes each.
            final EntryTooLargeException utf8 = assertThrows(EntryTooLargeException.class,
                () -> map.put("\u6f22".repeat(200), "v"));
            assertEquals(600, utf8.entryBytes());
            assertTrue(map.isEmpty());
        }
    }

    /** A {@code long} key and a {@code long} value need 16 bytes: a map limited to 15 cannot hold any entry. */
    private static ShardedHashMap<Long, Long> longsOf15Bytes() {
        return ShardedHashMap.builder(Long.class, Long.class).shards(4).maxEntryBytes(15).build();
    }

    /** Nothing stored, nothing visible: what a refused write must leave behind. */
    private static void assertEmpty(ShardedHashMap<Long, Long> map, String after) {
        assertEquals(0, map.size(), after);
        assertNull(map.get(1L), after);
        assertEquals(-1L, map.getLong(1L, -1L), after);
        assertFalse(map.containsLong(1L), after);
        assertFalse(map.iter().hasNext(), after);
        assertEquals(0, map.memoryStats().entries(), after);
    }

    @Test
    void putLongRefusesAnEntryAboveMaxEntryBytesLikePut() {
        try (ShardedHashMap<Long, Long> map = longsOf15Bytes()) {
            final EntryTooLargeException boxed = assertThrows(EntryTooLargeException.class, () -> map.put(1L, 2L));
            assertEmpty(map, "after put(1L, 2L) was refused");
            final EntryTooLargeException primitive = assertThrows(EntryTooLargeException.class,
                () -> map.putLong(1L, 2L, -1L), "putLong must refuse what put refuses");
            assertEquals(boxed.entryBytes(), primitive.entryBytes(), "entry size named by putLong");
            assertEquals(15, primitive.maxEntryBytes());
            assertEmpty(map, "after putLong(1L, 2L) was refused");
        }
    }

    @Test
    void addAndGetLongRefusesAnEntryAboveMaxEntryBytesLikePut() {
        try (ShardedHashMap<Long, Long> map = longsOf15Bytes()) {
            final EntryTooLargeException boxed = assertThrows(EntryTooLargeException.class, () -> map.put(1L, 2L));
            final EntryTooLargeException primitive = assertThrows(EntryTooLargeException.class,
                () -> map.addAndGetLong(1L, 2L), "addAndGetLong must refuse what put refuses");
            assertEquals(boxed.entryBytes(), primitive.entryBytes(), "entry size named by addAndGetLong");
            assertEquals(15, primitive.maxEntryBytes());
            assertEmpty(map, "after addAndGetLong(1L, 2L) was refused");
        }
    }

    @Test
    void lookupsOfAnOverlongKeyAnswerAbsent() {
        try (ShardedHashMap<String, String> map = smallEntries()) {
            map.put("k", "v");
            final String huge = "q".repeat(10_000);
            assertNull(map.get(huge));
            assertNull(map.get(huge, "reuse"));
            assertFalse(map.containsKey(huge));
            assertFalse(map.contains(huge));
            assertNull(map.remove(huge));
            assertFalse(map.remove(huge, "v"));
            assertNull(map.replace(huge, "v"));
            assertFalse(map.replace(huge, "v", "w"));
            assertNull(map.computeIfPresent(huge, (k, v) -> "w"));
            assertEquals("d", map.getOrDefault(huge, "d"));
            assertFalse(map.keySet().contains(huge));
            assertFalse(map.keySet().remove(huge));
            assertFalse(map.entrySet().contains(new SimpleEntry<>(huge, "v")));
            assertFalse(map.entrySet().remove(new SimpleEntry<>(huge, "v")));
            assertEquals(java.util.Arrays.asList("v", null), map.batchGet(List.of("k", huge)));
            assertEquals(0, map.batchRemove(List.of(huge)));
            assertThrows(EntryTooLargeException.class, () -> map.put(huge, "v"), "writes still refuse it");
            assertThrows(EntryTooLargeException.class, () -> map.computeIfAbsent(huge, k -> "v"));
            assertThrows(EntryTooLargeException.class, () -> map.compute(huge, (k, v) -> "v"));
            assertEquals(Map.of("k", "v"), new HashMap<>(map));
        }
    }

    // ================================================================================================ budget

    private static ShardedHashMap<Long, String> budgeted(long bytes) {
        return ShardedHashMap.builder(Long.class, String.class).shards(4).hashSeed(7).memoryBudget(bytes).build();
    }

    /** Fills until the budget refuses {@code failures} writes; returns the oracle of what was written. */
    private static Map<Long, String> fillUntilFull(ShardedHashMap<Long, String> map, SplittableRandom rnd,
                                                   int failures) {
        final Map<Long, String> oracle = new HashMap<>();
        int failed = 0;
        for (long k = 0; failed < failures; k++) {
            assertTrue(k < 1_000_000, "the budget never filled");
            final String value = "v" + k + "-" + "z".repeat(rnd.nextInt(200));
            try {
                map.put(k, value);
                oracle.put(k, value);
            } catch (OffHeapMemoryExhaustedException e) {
                failed++;
                assertTrue(e.getMessage().contains("budget"), e.getMessage());
            }
        }
        return oracle;
    }

    private static <K, V> void assertExactly(Map<K, V> expected, ShardedHashMap<K, V> map) {
        assertEquals(expected.size(), map.size());
        assertEquals(expected, new HashMap<>(map));
        assertEquals(expected, map);
        for (Map.Entry<K, V> e : expected.entrySet()) {
            assertEquals(e.getValue(), map.get(e.getKey()));
        }
    }

    @Test
    void fullBudgetRefusesWritesAndLeavesEveryOtherEntryAsItWas() {
        final long budget = 96 * 1024;
        try (ShardedHashMap<Long, String> map = budgeted(budget)) {
            final SplittableRandom rnd = new SplittableRandom(1);
            final Map<Long, String> oracle = fillUntilFull(map, rnd, 50);
            assertFalse(oracle.isEmpty());
            assertExactly(oracle, map);
            assertTrue(map.memoryStats().usedBytes() <= budget);
            assertEquals(budget, map.memoryStats().budgetBytes());
            // Growing existing values, inserting, computing, merging: each either succeeds or changes nothing.
            final String large = "L".repeat(4_000);
            for (long k : new ArrayList<>(oracle.keySet()).subList(0, Math.min(50, oracle.size()))) {
                for (Executable write : List.<Executable>of(() -> map.put(k, large), () -> map.replace(k, large),
                        () -> map.compute(k, (a, b) -> large), () -> map.merge(k, "m", (a, b) -> large),
                        () -> map.replace(k, oracle.get(k), large))) {
                    try {
                        write.execute();
                        oracle.put(k, large);
                    } catch (OffHeapMemoryExhaustedException expected) {
                        // unchanged
                    } catch (Throwable t) {
                        fail(t);
                    }
                }
            }
            assertExactly(oracle, map);
            // Removing makes room again.
            final Long first = oracle.keySet().iterator().next();
            for (Long k : new ArrayList<>(oracle.keySet())) {
                if (!k.equals(first)) {
                    map.remove(k);
                    oracle.remove(k);
                }
            }
            map.put(-1L, "after");
            oracle.put(-1L, "after");
            assertExactly(oracle, map);
        }
    }

    @Test
    void budgetReachedMidPutAllReportsHowMuchWasApplied() {
        for (boolean batch : new boolean[] {false, true}) {
            try (ShardedHashMap<Long, String> map = budgeted(96 * 1024)) {
                final Map<Long, String> oracle = fillUntilFull(map, new SplittableRandom(2), 1);
                // Make a little room, then write more than fits.
                final List<Long> existing = new ArrayList<>(oracle.keySet());
                for (int i = 0; i < existing.size() / 4; i++) {
                    map.remove(existing.get(i));
                    oracle.remove(existing.get(i));
                }
                final Map<Long, String> input = new LinkedHashMap<>();
                for (long k = 1_000_000; k < 1_050_000; k++) {
                    input.put(k, "in" + k + "-".repeat(100));
                }
                input.put(existing.get(existing.size() - 1), "overwritten early?");
                final BatchWriteException e = assertThrows(BatchWriteException.class,
                    () -> {
                        if (batch) {
                            map.batchInsert(input);
                        } else {
                            map.putAll(input);
                        }
                    });
                assertInstanceOf(OffHeapMemoryExhaustedException.class, e.getCause());
                final int applied = e.appliedCount();
                assertEquals(applied, e.failedIndex());
                assertTrue(applied > 0 && applied < input.size(), "applied " + applied);
                assertTrue(e.getMessage().contains(applied + " of " + input.size()), e.getMessage());
                int i = 0;
                for (Map.Entry<Long, String> entry : input.entrySet()) {
                    if (i++ < applied) {
                        oracle.put(entry.getKey(), entry.getValue());
                    }
                }
                assertExactly(oracle, map);
            }
        }
    }

    // ================================================================================================ codecs

    /** A String codec that fails on chosen values: "poison" throws a plain runtime exception, "npe" an NPE. */
    static class FailingCodec implements Codec<String> {
        @Override
        public Class<String> type() {
            return String.class;
        }

        @Override
        public int fixedLength() {
            return VARIABLE_LENGTH;
        }

        @Override
        public int encode(String value, MutableDirectBuffer buffer, int offset, int maxLength) {
            if (value.startsWith("poison")) {
                throw new IllegalArgumentException("cannot encode poison");
            }
            if (value.equals("npe")) {
                throw new NullPointerException("codec bug");
            }
            return StringCodec.INSTANCE.encode(value, buffer, offset, maxLength);
        }

        @Override
        public String decode(DirectBuffer buffer, int offset, int length) {
            return StringCodec.INSTANCE.decode(buffer, offset, length);
        }

        @Override
        public String toString() {
            return "FailingCodec";
        }
    }

    private static ShardedHashMap<String, String> failingCodecs() {
        return ShardedHashMap.builder(String.class, String.class).shards(4)
            .keyCodec(new FailingCodec()).valueCodec(new FailingCodec()).build();
    }

    @Test
    void codecFailureDuringAWriteChangesNothingAndSaysWhatFailed() {
        try (ShardedHashMap<String, String> map = failingCodecs()) {
            map.put("a", "1");
            map.put("b", "2");
            final Map<String, String> before = Map.of("a", "1", "b", "2");
            final List<Executable> writes = List.of(() -> map.put("a", "poison"), () -> map.put("c", "poison"),
                () -> map.putIfAbsent("c", "poison"), () -> map.replace("a", "poison"),
                () -> map.replace("a", "1", "poison"), () -> map.compute("a", (k, v) -> "poison"),
                () -> map.computeIfAbsent("c", k -> "poison"), () -> map.merge("a", "poison", (x, y) -> y),
                () -> map.merge("b", "x", (x, y) -> "poison"), () -> map.set("b", "poison"),
                () -> map.put("a", "npe"));
            for (Executable write : writes) {
                final CodecException e = assertThrows(CodecException.class, write);
                assertTrue(e.getMessage().contains("value codec") && e.getMessage().contains("FailingCodec"),
                    e.getMessage());
                assertTrue(e.getMessage().contains("unchanged"), e.getMessage());
                assertTrue(e.getCause() instanceof IllegalArgumentException
                    || e.getCause() instanceof NullPointerException, String.valueOf(e.getCause()));
            }
            final CodecException key = assertThrows(CodecException.class, () -> map.put("poison-key", "1"));
            assertTrue(key.getMessage().contains("key codec"), key.getMessage());
            assertThrows(CodecException.class, () -> map.get("poison-key"), "a key that cannot be encoded");
            assertEquals(before, new HashMap<>(map));
            assertEquals(2, map.size());
        }
    }

    @Test
    void codecFailureMidBatchReportsTheAppliedCount() {
        for (String bad : new String[] {"poison", "npe"}) {
            try (ShardedHashMap<String, String> map = failingCodecs()) {
                map.put("x", "0");
                final Map<String, String> input = new LinkedHashMap<>();
                input.put("a", "1");
                input.put("b", "2");
                input.put("c", bad);
                input.put("d", "4");
                final BatchWriteException e = assertThrows(BatchWriteException.class, () -> map.putAll(input));
                assertEquals(2, e.appliedCount());
                assertEquals(2, e.failedIndex());
                assertInstanceOf(CodecException.class, e.getCause());
                assertEquals(Map.of("x", "0", "a", "1", "b", "2"), new HashMap<>(map));
                final BatchWriteException e2 = assertThrows(BatchWriteException.class,
                    () -> map.batchInsert(List.of(new SimpleEntry<>("e", "5"), new SimpleEntry<>("f", bad))));
                assertEquals(1, e2.appliedCount());
                assertEquals("5", map.get("e"));
                assertFalse(map.containsKey("f"));
            }
        }
    }

    @Test
    void nullInABatchIsRefusedBeforeAnythingIsWritten() {
        try (ShardedHashMap<String, String> map = failingCodecs()) {
            final Map<String, String> input = new LinkedHashMap<>();
            input.put("a", "1");
            input.put("b", null);
            final NullPointerException e = assertThrows(NullPointerException.class, () -> map.putAll(input));
            assertTrue(e.getMessage().contains("nothing was written"), e.getMessage());
            assertThrows(NullPointerException.class, () -> map.batchInsert(input));
            assertTrue(map.isEmpty());
        }
    }

    @Test
    void anEntryTurningNullMidBatchStillReportsTheAppliedCount() {
        try (ShardedHashMap<String, String> map = failingCodecs()) {
            // The second entry's value is there when checked and gone when written.
            final Map.Entry<String, String> fickle = new SimpleEntry<>("b", "2") {
                private static final long serialVersionUID = 1L;
                private int reads;

                @Override
                public String getValue() {
                    return ++reads <= 1 ? super.getValue() : null;
                }
            };
            final BatchWriteException e = assertThrows(BatchWriteException.class,
                () -> map.batchInsert(List.of(new SimpleEntry<>("a", "1"), fickle)));
            assertEquals(1, e.appliedCount());
            assertInstanceOf(NullPointerException.class, e.getCause());
            assertEquals(Map.of("a", "1"), new HashMap<>(map));
        }
    }

    @Test
    void closeDuringABatchReportsTheAppliedCount() {
        final AtomicReference<ShardedHashMap<String, String>> holder = new AtomicReference<>();
        final Codec<String> closing = new FailingCodec() {
            @Override
            public int encode(String value, MutableDirectBuffer buffer, int offset, int maxLength) {
                if (value.equals("close-now")) {
                    holder.get().close();
                }
                return super.encode(value, buffer, offset, maxLength);
            }
        };
        final ShardedHashMap<String, String> map = ShardedHashMap.builder(String.class, String.class).shards(2)
            .valueCodec(closing).build();
        holder.set(map);
        final Map<String, String> input = new LinkedHashMap<>();
        input.put("a", "1");
        input.put("b", "close-now");
        input.put("c", "3");
        final BatchWriteException e = assertThrows(BatchWriteException.class, () -> map.putAll(input));
        assertEquals(1, e.appliedCount());
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals("map is closed", e.getCause().getMessage());
        assertTrue(map.isClosed());
    }

    // ================================================================================================ close

    @Test
    void everyPublicMethodThrowsAfterClose() {
        final ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(64).build();
        for (long k = 0; k < 10; k++) {
            map.put(k, k);
        }
        final Set<Long> keys = map.keySet();
        final Collection<Long> values = map.values();
        final Set<Map.Entry<Long, Long>> entries = map.entrySet();
        final Iterator<Long> keyIt = keys.iterator();
        final Iterator<Map.Entry<Long, Long>> entryIt = map.iter();
        keyIt.next();                             // its shard's copy is buffered
        final Map.Entry<Long, Long> entry = entryIt.next();
        final Iterator<Long> freshIt = values.iterator();
        long absent = 1_000;
        while (map.perShardLoad()[shardOf(map, absent)] != 0) {
            absent++;                             // a key whose shard was never allocated
        }
        final long unallocated = absent;
        map.close();
        map.close();                              // idempotent
        assertTrue(map.isClosed());
        assertEquals("ShardedHashMap{closed}", map.toString());
        assertEquals(0, map.memoryStats().usedBytes(), "memoryStats answers after close: every byte came back");
        assertEquals(0, map.memoryStats().entries());

        final Map<String, Executable> calls = new LinkedHashMap<>();
        calls.put("get", () -> map.get(1L));
        calls.put("get unallocated shard", () -> map.get(unallocated));
        calls.put("get foreign key", () -> map.get("x"));
        calls.put("get reuse", () -> map.get(1L, 5L));
        calls.put("containsKey", () -> map.containsKey(unallocated));
        calls.put("contains", () -> map.contains(1L));
        calls.put("getOrDefault", () -> map.getOrDefault(unallocated, 1L));
        calls.put("containsValue", () -> map.containsValue(1L));
        calls.put("size", map::size);
        calls.put("isEmpty", map::isEmpty);
        calls.put("len", map::len);
        calls.put("mappingCount", map::mappingCount);
        calls.put("put", () -> map.put(1L, 2L));
        calls.put("set", () -> map.set(unallocated, 2L));
        calls.put("insert", () -> map.insert(1L, 2L));
        calls.put("putIfAbsent", () -> map.putIfAbsent(unallocated, 2L));
        calls.put("remove", () -> map.remove(unallocated));
        calls.put("remove foreign", () -> map.remove("x"));
        calls.put("remove(k,v)", () -> map.remove(1L, 1L));
        calls.put("replace", () -> map.replace(unallocated, 1L));
        calls.put("replace(k,o,n)", () -> map.replace(unallocated, 1L, 2L));
        calls.put("compute", () -> map.compute(1L, (k, v) -> 1L));
        calls.put("computeIfAbsent", () -> map.computeIfAbsent(unallocated, k -> 1L));
        calls.put("computeIfPresent", () -> map.computeIfPresent(unallocated, (k, v) -> 1L));
        calls.put("merge", () -> map.merge(1L, 1L, Long::sum));
        calls.put("putAll", () -> map.putAll(Map.of(1L, 1L)));
        calls.put("putAll empty", () -> map.putAll(Map.of()));
        calls.put("batchInsert", () -> map.batchInsert(Map.of(1L, 1L)));
        calls.put("batchInsert empty", () -> map.batchInsert(List.of()));
        calls.put("batchGet", () -> map.batchGet(List.of(unallocated)));
        calls.put("batchGet empty", () -> map.batchGet(List.of()));
        calls.put("batchRemove", () -> map.batchRemove(List.of(1L)));
        calls.put("batchRemove empty", () -> map.batchRemove(List.of()));
        calls.put("retain", () -> map.retain((k, v) -> true));
        calls.put("clear", map::clear);
        calls.put("forEach", () -> map.forEach((k, v) -> { }));
        calls.put("replaceAll", () -> map.replaceAll((k, v) -> v));
        calls.put("keys", map::keys);
        calls.put("iter", map::iter);
        calls.put("keySet().iterator", () -> map.keySet().iterator());
        calls.put("equals", () -> map.equals(Map.of()));
        calls.put("hashCode", map::hashCode);
        calls.put("shardCount", map::shardCount);
        calls.put("initializedShards", map::initializedShards);
        calls.put("shardStats", map::shardStats);
        calls.put("perShardLoad", map::perShardLoad);
        calls.put("getLong", () -> map.getLong(unallocated, -1));
        calls.put("getLong allocated", () -> map.getLong(1, -1));
        calls.put("getLongs", () -> map.getLongs(new long[] {1, unallocated}, new long[2], 0, 2, -1));
        calls.put("containsLong", () -> map.containsLong(unallocated));
        calls.put("putLong", () -> map.putLong(1, 1, -1));
        calls.put("removeLong", () -> map.removeLong(unallocated, -1));
        calls.put("addAndGetLong", () -> map.addAndGetLong(1, 1));
        calls.put("keySet.size", keys::size);
        calls.put("keySet.isEmpty", keys::isEmpty);
        calls.put("keySet.contains", () -> keys.contains(1L));
        calls.put("keySet.remove", () -> keys.remove(unallocated));
        calls.put("keySet.iterator", keys::iterator);
        calls.put("keySet.removeAll", () -> keys.removeAll(List.of(1L)));
        calls.put("keySet.retainAll", () -> keys.retainAll(List.of(1L)));
        calls.put("keySet.clear", keys::clear);
        calls.put("keySet.toArray", keys::toArray);
        calls.put("values.size", values::size);
        calls.put("values.contains", () -> values.contains(1L));
        calls.put("values.remove", () -> values.remove(1L));
        calls.put("values.remove null", () -> values.remove(null));
        calls.put("values.iterator", values::iterator);
        calls.put("entrySet.size", entries::size);
        calls.put("entrySet.contains", () -> entries.contains(new SimpleEntry<>(1L, 1L)));
        calls.put("entrySet.contains junk", () -> entries.contains("junk"));
        calls.put("entrySet.remove", () -> entries.remove(new SimpleEntry<>(1L, 1L)));
        calls.put("entrySet.remove junk", () -> entries.remove("junk"));
        calls.put("entrySet.iterator", entries::iterator);
        calls.put("open iterator hasNext (buffered)", keyIt::hasNext);
        calls.put("open iterator next (buffered)", keyIt::next);
        calls.put("open iterator remove", entryIt::remove);
        calls.put("untouched iterator hasNext", freshIt::hasNext);
        calls.put("entry setValue", () -> entry.setValue(5L));
        for (Map.Entry<String, Executable> call : calls.entrySet()) {
            final IllegalStateException e = assertThrows(IllegalStateException.class, call.getValue(), call.getKey());
            assertEquals("map is closed", e.getMessage(), call.getKey());
        }
    }

    private static int shardOf(ShardedHashMap<Long, Long> map, long key) {
        // Probe: in a fresh map with the same seed, which shard does the key land in?
        try (ShardedHashMap<Long, Long> probe = ShardedHashMap.builder(Long.class, Long.class)
                .shards(map.shardCount()).hashSeed(map.hashSeed()).build()) {
            probe.put(key, key);
            final long[] loads = probe.perShardLoad();
            for (int i = 0; i < loads.length; i++) {
                if (loads[i] != 0) {
                    return i;
                }
            }
            throw new AssertionError("unreachable");
        }
    }

    // ================================================================================================ re-entry

    /** Uses of the map from inside its own compute/merge/retain functions. */
    private static Map<String, Consumer<ShardedHashMap<Long, Long>>> reentrantUses() {
        final Map<String, Consumer<ShardedHashMap<Long, Long>>> uses = new LinkedHashMap<>();
        uses.put("size", ShardedHashMap::size);
        uses.put("isEmpty", ShardedHashMap::isEmpty);
        uses.put("mappingCount", ShardedHashMap::mappingCount);
        uses.put("get", m -> m.get(1L));
        uses.put("get other key", m -> m.get(2L));
        uses.put("getLong", m -> m.getLong(1, -1));
        uses.put("getLongs", m -> m.getLongs(new long[] {1, 2}, new long[2], 0, 2, -1));
        uses.put("containsLong", m -> m.containsLong(1));
        uses.put("put", m -> m.put(3L, 3L));
        uses.put("containsValue", m -> m.containsValue(5L));
        uses.put("keySet iteration", m -> m.keySet().forEach(k -> { }));
        uses.put("values iteration", m -> m.values().iterator().hasNext());
        uses.put("entrySet contains", m -> m.entrySet().contains(new SimpleEntry<>(1L, 1L)));
        uses.put("equals", m -> m.equals(new HashMap<>()));
        uses.put("hashCode", ShardedHashMap::hashCode);
        uses.put("toString", ShardedHashMap::toString);
        uses.put("forEach", m -> m.forEach((k, v) -> { }));
        uses.put("keys", ShardedHashMap::keys);
        uses.put("clear", ShardedHashMap::clear);
        uses.put("retain", m -> m.retain((k, v) -> true));
        uses.put("batchGet", m -> m.batchGet(List.of(1L)));
        uses.put("putAll", m -> m.putAll(Map.of(9L, 9L)));
        uses.put("perShardLoad", ShardedHashMap::perShardLoad);
        uses.put("shardStats", ShardedHashMap::shardStats);
        uses.put("memoryStats", ShardedHashMap::memoryStats);
        uses.put("close", ShardedHashMap::close);
        return uses;
    }

    @Test
    void usingTheMapFromItsOwnFunctionsThrowsInsteadOfDeadlocking() {
        for (Map.Entry<String, Consumer<ShardedHashMap<Long, Long>>> use : reentrantUses().entrySet()) {
            // Not try-with-resources: after a deadlock the stuck thread keeps the shard locked and close() would
            // hang the test instead of letting it fail. Closed only on success.
            final ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(1).build();
            map.put(1L, 1L);
            map.put(2L, 2L);
            final Consumer<ShardedHashMap<Long, Long>> body = use.getValue();
            final List<Executable> callers = List.of(
                () -> map.compute(1L, (k, v) -> {
                    body.accept(map);
                    return 10L;
                }),
                () -> map.merge(1L, 5L, (a, b) -> {
                    body.accept(map);
                    return 10L;
                }),
                () -> map.computeIfPresent(2L, (k, v) -> {
                    body.accept(map);
                    return 10L;
                }),
                () -> map.computeIfAbsent(4L, k -> {
                    body.accept(map);
                    return 10L;
                }),
                () -> map.retain((k, v) -> {
                    body.accept(map);
                    return false;
                }));
            for (Executable caller : callers) {
                final IllegalStateException e = assertTimeoutPreemptively(DEADLOCK_TIMEOUT,
                    () -> assertThrows(IllegalStateException.class, caller, use.getKey()), use.getKey());
                assertTrue(e.getMessage().contains("must not use the map")
                    || e.getMessage().contains("under this map's lock"), use.getKey() + ": " + e.getMessage());
            }
            assertEquals(Map.of(1L, 1L, 2L, 2L), new HashMap<>(map), use.getKey() + ": unchanged and usable");
            map.close();
        }
    }

    @Test
    void usingTheMapThroughAnotherMapsFunctionThrowsToo() {
        final ShardedHashMap<Long, Long> a = ShardedHashMap.builder(Long.class, Long.class).shards(1).build();
        final ShardedHashMap<Long, Long> b = ShardedHashMap.builder(Long.class, Long.class).shards(1).build();
        a.put(1L, 1L);
        b.put(1L, 1L);
        final IllegalStateException e = assertTimeoutPreemptively(DEADLOCK_TIMEOUT,
            () -> assertThrows(IllegalStateException.class, () -> a.compute(1L, (k, v) -> {
                b.compute(1L, (k2, v2) -> a.get(1L));   // a's shard is still write-locked
                return 2L;
            })));
        assertTrue(e.getMessage().contains("must not use the map"), e.getMessage());
        assertEquals(1L, a.get(1L));
        assertEquals(1L, b.get(1L));
        // Using another map from a function is fine.
        assertEquals(3L, a.compute(1L, (k, v) -> v + b.get(1L) + b.size()));
        a.close();   // closed only on success, see above
        b.close();
    }
}
