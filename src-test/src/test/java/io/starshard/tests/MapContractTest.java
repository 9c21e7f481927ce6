package io.starshard.tests;

import io.starshard.MemoryStats;
import io.starshard.ShardStats;
import io.starshard.ShardedHashMap;
import io.starshard.tests.MapConfig.Format;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

import java.time.Duration;
import java.util.AbstractMap.SimpleEntry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The {@link java.util.Map} / {@link java.util.concurrent.ConcurrentMap} contract, method by method as the Javadoc
 * states it, plus the seed API, for five key/value type pairs: {@code Long -> Long} (inline slots),
 * {@code String -> String}, {@code String -> byte[]} (array values), {@code Integer -> String}, and
 * {@code Long -> Item} (a record coded by Kryo with an extra registration).
 *
 * <p>Each pair runs over the full {@link MapConfig#matrix} of its format (1, 8 and 64 shards; presized or grown;
 * with or without a budget), and {@link ValidateMaps} checks every map's invariants after every test.
 *
 * <p>Array values: the map compares a caller's value with a stored one by content (a stored value is always a
 * fresh copy, identity could never match), while {@code equals} keeps the {@code Map} contract (identity for
 * arrays, so a non-empty {@code String -> byte[]} map equals only itself, symmetrically with {@code HashMap}).
 * The {@code arrayValues()} branches below pin exactly that.
 */
@ExtendWith(ValidateMaps.class)
class MapContractTest {

    @Nested
    @ParameterizedClass(name = "{0}")
    @MethodSource("configs")
    class LongToLong extends Contract<Long, Long> {
        static Stream<MapConfig> configs() {
            return MapConfig.matrix(Format.LONG_LONG);
        }

        @Override
        Format format() {
            return Format.LONG_LONG;
        }

        @Override
        Long key(int i) {
            return i * 0x9E3779B97F4A7C15L;   // spread over the whole long range, negative ones included
        }

        @Override
        Long value(int i) {
            return 1_000_000L + i;
        }

        @Override
        Object foreignKey() {
            return "not a long";
        }

        @Override
        Object foreignValue() {
            return 7;   // an Integer, never equal to a Long
        }

        @Test
        void primitivePathAgreesWithBoxedPath() {
            assertEquals(-1L, map.getLong(5, -1L));
            assertFalse(map.containsLong(5));
            assertEquals(0, map.initializedShards(), "primitive reads of absent keys allocate no shard");
            assertEquals(-1L, map.putLong(5, 50, -1L));
            assertEquals(50L, map.putLong(5, 51, -1L));
            assertEquals(51L, map.get(5L));
            assertTrue(map.containsLong(5));
            assertEquals(51L, map.getLong(5, -1L));
            map.put(6L, 60L);
            assertEquals(60L, map.getLong(6, -1L));
            assertEquals(10L, map.addAndGetLong(7, 10));
            assertEquals(15L, map.addAndGetLong(7, 5));
            assertEquals(15L, map.get(7L));
            assertEquals(3, map.size());
            assertEquals(51L, map.removeLong(5, -1L));
            assertEquals(-1L, map.removeLong(5, -1L));
            assertEquals(-1L, map.removeLong(123_456, -1L));
            assertNull(map.get(5L));
            assertEquals(2, map.size());
            assertEquals(Map.of(6L, 60L, 7L, 15L), new HashMap<>(map));
        }

        @Test
        void getLongsReadsEveryKeyOfTheRangeAndNothingElse() {
            final long[] none = new long[10];
            Arrays.fill(none, 7L);
            map.getLongs(new long[10], none, 0, 10, -1L);
            assertTrue(Arrays.stream(none).allMatch(v -> v == -1L), "absent keys of unallocated shards read missing");
            assertEquals(0, map.initializedShards(), "a batched read of absent keys allocates no shard");
            for (long k = 0; k < 1000; k += 2) {   // even keys present, odd absent
                map.putLong(k, k * 10, -1L);
            }
            // 300 keys: the batch spans several read sections (64 keys each) and every shard
            final long[] keys = new long[302];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = (i * 7919L) % 1100;
            }
            final long[] values = new long[keys.length];
            Arrays.fill(values, 42L);
            map.getLongs(keys, values, 1, 300, -1L);
            assertEquals(42L, values[0], "index before the range untouched");
            assertEquals(42L, values[301], "index after the range untouched");
            for (int i = 1; i <= 300; i++) {
                final long k = keys[i];
                assertEquals(k < 1000 && k % 2 == 0 ? k * 10 : -1L, values[i], "key " + k + " at index " + i);
            }
            values[5] = 99L;
            map.getLongs(keys, values, 5, 0, -1L);   // empty range: nothing read, nothing written
            assertEquals(99L, values[5]);
        }

        @Test
        void reuseGetReturnsTheValue() {
            map.put(1L, 11L);
            assertEquals(11L, map.get(1L, 99L));
            assertNull(map.get(2L, 99L));
        }
    }

    @Nested
    @ParameterizedClass(name = "{0}")
    @MethodSource("configs")
    class StringToString extends Contract<String, String> {
        static Stream<MapConfig> configs() {
            return MapConfig.matrix(Format.STRING_STRING);
        }

        @Override
        Format format() {
            return Format.STRING_STRING;
        }

        @Override
        String key(int i) {
            return i % 5 == 0 ? "\u00fc-" + i + "-\ud83d\ude00" : "k" + i;   // multi-byte UTF-8, a surrogate pair
        }

        @Override
        String value(int i) {
            // One empty value; short and long ones (several arena size classes, some above 64 bytes); distinct.
            return i == 0 ? "" : i % 3 == 0 ? "long-" + i + "-" + "v".repeat(40 + i % 300) : "v" + i;
        }

        @Override
        Object foreignKey() {
            return 1L;
        }

        @Override
        Object foreignValue() {
            return 'c';
        }

        @Test
        void updatesMoveBetweenShortAndLongValues() {
            fill(50);
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 50; i++) {
                    final String v = (i + round) % 2 == 0 ? "s" + i : "L".repeat(100 + 37 * round) + i;
                    map.put(key(i), v);
                    assertEquals(v, map.get(key(i)));
                }
            }
            assertEquals(50, map.size());
        }
    }

    @Nested
    @ParameterizedClass(name = "{0}")
    @MethodSource("configs")
    class StringToBytes extends Contract<String, byte[]> {
        static Stream<MapConfig> configs() {
            return MapConfig.matrix(Format.STRING_BYTES);
        }

        @Override
        Format format() {
            return Format.STRING_BYTES;
        }

        @Override
        String key(int i) {
            return i % 7 == 0 ? "k\u00e9y-" + i + "-\u6f22" : "key-" + i;   // some multi-byte UTF-8
        }

        @Override
        byte[] value(int i) {
            final byte[] v = new byte[i % 5 == 0 ? 0 : 1 + i % 40];   // empty arrays included
            Arrays.fill(v, (byte) i);
            return v.length == 0 ? ("#" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8) : v;
        }

        @Override
        boolean arrayValues() {
            return true;
        }

        @Override
        Object foreignKey() {
            return 42L;
        }

        @Override
        Object foreignValue() {
            return "bytes?";
        }

        @Test
        void emptyArrayValueRoundTrips() {
            map.put("empty", new byte[0]);
            assertArrayEquals(new byte[0], map.get("empty"));
            assertTrue(map.containsValue(new byte[0]));
            assertTrue(map.remove("empty", new byte[0]));
        }

        @Test
        void returnedArraysAreCopies() {
            map.put("a", new byte[] {1, 2, 3});
            final byte[] got = map.get("a");
            got[0] = 9;
            assertArrayEquals(new byte[] {1, 2, 3}, map.get("a"), "mutating a returned array changes nothing");
            assertFalse(map.get("a") == map.get("a"), "every get decodes a fresh array");
        }
    }

    @Nested
    @ParameterizedClass(name = "{0}")
    @MethodSource("configs")
    class IntegerToString extends Contract<Integer, String> {
        static Stream<MapConfig> configs() {
            return MapConfig.matrix(Format.INTEGER_STRING);
        }

        @Override
        Format format() {
            return Format.INTEGER_STRING;
        }

        @Override
        Integer key(int i) {
            return i % 2 == 0 ? i : -i;
        }

        @Override
        String value(int i) {
            return i % 3 == 0 ? "" + i : "value-" + i + "-" + "x".repeat(i % 50);
        }

        @Override
        Object foreignKey() {
            return 3L;   // a Long 3 is not an Integer 3
        }

        @Override
        Object foreignValue() {
            return 3;
        }

        @Test
        void longKeyOfSameNumberIsAbsent() {
            map.put(3, "three");
            assertNull(map.get(3L));
            assertFalse(map.containsKey(3L));
            assertNull(map.remove(3L));
            assertEquals("three", map.get(3));
        }
    }

    @Nested
    @ParameterizedClass(name = "{0}")
    @MethodSource("configs")
    class LongToKryoRecord extends Contract<Long, Item> {
        static Stream<MapConfig> configs() {
            return MapConfig.matrix(Format.LONG_ITEM);
        }

        @Override
        Format format() {
            return Format.LONG_ITEM;
        }

        @Override
        Long key(int i) {
            return (long) i;
        }

        @Override
        Item value(int i) {
            return new Item(i, "item " + i, Item.Tag.values()[i % 3]);
        }

        @Override
        Object foreignKey() {
            return "1";
        }

        @Override
        Object foreignValue() {
            return "item";
        }

        @Test
        void decodedRecordsAreEqualButNotSame() {
            final Item item = value(3);
            map.put(3L, item);
            final Item got = map.get(3L);
            assertEquals(item, got);
            assertFalse(item == got, "a get returns a decoded copy");
            assertSame(Item.Tag.RED, got.tag());
        }
    }

    /**
     * The contract, written once. Subclasses give the format and distinct keys/values: {@code key(i)} are distinct
     * for distinct {@code i}, {@code value(i)} likewise. {@link ValidateMaps} checks and closes the maps after each
     * test (so there is no {@code @AfterEach} closing them here).
     */
    abstract static class Contract<K, V> {
        /** Injected by {@code @ParameterizedClass} from the subclass's {@code configs()}. */
        @Parameter
        MapConfig config;
        ShardedHashMap<K, V> map;

        /** The format the subclass's keys and values are of. */
        abstract Format format();

        abstract K key(int i);

        abstract V value(int i);

        /** A key object of another type than K. */
        abstract Object foreignKey();

        /** A value object of another type than V. */
        abstract Object foreignValue();

        boolean arrayValues() {
            return false;
        }

        @BeforeEach
        void openMap() {
            assertEquals(format(), config.format(), "the matrix gave this contract another format");
            map = config.newMap();
        }

        // ---------------------------------------------------------------------------------------------- helpers

        void assertValue(V expected, V actual) {
            assertValue(expected, actual, "");
        }

        void assertValue(V expected, V actual, String message) {
            if (!Objects.deepEquals(expected, actual)) {
                fail(message + ": expected " + show(expected) + " but was " + show(actual));
            }
        }

        static String show(Object o) {
            return o instanceof byte[] b ? Arrays.toString(b) : String.valueOf(o);
        }

        Map<K, V> fill(int n) {
            final Map<K, V> expected = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                assertNull(map.put(key(i), value(i)));
                expected.put(key(i), value(i));
            }
            return expected;
        }

        /** Same mappings, checked through get, size and a full iteration (each key exactly once). */
        void assertContents(Map<K, V> expected) {
            assertEquals(expected.size(), map.size(), "size");
            assertEquals(expected.isEmpty(), map.isEmpty(), "isEmpty");
            for (Map.Entry<K, V> e : expected.entrySet()) {
                assertValue(e.getValue(), map.get(e.getKey()));
            }
            final Set<K> seen = new HashSet<>();
            for (Map.Entry<K, V> e : map.entrySet()) {
                assertTrue(seen.add(e.getKey()), "iterated twice: " + e.getKey());
                assertTrue(expected.containsKey(e.getKey()), "unexpected key " + e.getKey());
                assertValue(expected.get(e.getKey()), e.getValue());
            }
            assertEquals(expected.size(), seen.size(), "iterated entries");
        }

        // ---------------------------------------------------------------------------------------------- Map

        @Test
        void getPutRemoveContainsSize() {
            assertTrue(map.isEmpty());
            assertEquals(0, map.size());
            assertNull(map.get(key(1)));
            assertFalse(map.containsKey(key(1)));
            assertNull(map.put(key(1), value(1)), "put of a new key returns null");
            assertValue(value(1), map.put(key(1), value(2)));
            assertValue(value(2), map.get(key(1)));
            assertTrue(map.containsKey(key(1)));
            assertEquals(1, map.size());
            assertFalse(map.isEmpty());
            assertNull(map.remove(key(2)), "remove of an absent key returns null");
            assertValue(value(2), map.remove(key(1)));
            assertNull(map.remove(key(1)));
            assertNull(map.get(key(1)));
            assertTrue(map.isEmpty());
            assertContents(fill(300));
        }

        @Test
        void keysOfAnotherTypeAreAbsent() {
            fill(10);
            assertNull(map.get(foreignKey()));
            assertFalse(map.containsKey(foreignKey()));
            assertNull(map.remove(foreignKey()));
            assertFalse(map.remove(foreignKey(), value(1)));
            assertFalse(map.keySet().contains(foreignKey()));
            assertValue(value(1), map.getOrDefault(foreignKey(), value(1)));
            assertFalse(map.containsValue(foreignValue()));
            assertFalse(map.remove(key(1), foreignValue()));
            assertEquals(10, map.size());
        }

        @Test
        void containsValue() {
            fill(50);
            assertTrue(map.containsValue(value(17)));
            if (arrayValues()) {
                // Documented: arrays compare by content (a fresh equal array is found).
                assertFalse(value(17) == value(17));
            }
            assertFalse(map.containsValue(value(50)));
            map.remove(key(17));
            assertFalse(map.containsValue(value(17)));
        }

        @Test
        void clearEmptiesEverything() {
            fill(100);
            map.clear();
            assertContents(Map.of());
            assertNull(map.get(key(3)));
            map.put(key(3), value(3));
            assertContents(Map.of(key(3), value(3)));
        }

        @Test
        void putAllWritesEveryMappingAndOverwrites() {
            fill(10);
            final Map<K, V> more = new HashMap<>();
            for (int i = 5; i < 40; i++) {
                more.put(key(i), value(i + 100));
            }
            map.putAll(more);
            final Map<K, V> expected = new HashMap<>();
            for (int i = 0; i < 5; i++) {
                expected.put(key(i), value(i));
            }
            expected.putAll(more);
            assertContents(expected);
            map.putAll(Map.of());
            assertContents(expected);
        }

        @Test
        void putIfAbsent() {
            assertNull(map.putIfAbsent(key(1), value(1)));
            assertValue(value(1), map.putIfAbsent(key(1), value(2)));
            assertValue(value(1), map.get(key(1)));
            assertEquals(1, map.size());
        }

        @Test
        void removeKeyValue() {
            fill(3);
            assertFalse(map.remove(key(1), value(2)), "another value: not removed");
            assertFalse(map.remove(key(9), value(9)), "absent key");
            assertTrue(map.containsKey(key(1)));
            assertTrue(map.remove(key(1), value(1)), "an equal (not identical) value removes");
            assertFalse(map.containsKey(key(1)));
            assertFalse(map.remove(key(1), value(1)));
            assertEquals(2, map.size());
        }

        @Test
        void replaceIfPresent() {
            assertNull(map.replace(key(1), value(1)), "absent: nothing replaced");
            assertFalse(map.containsKey(key(1)));
            map.put(key(1), value(1));
            assertValue(value(1), map.replace(key(1), value(2)));
            assertValue(value(2), map.get(key(1)));
            assertEquals(1, map.size());
        }

        @Test
        void replaceIfEquals() {
            assertFalse(map.replace(key(1), value(1), value(2)));
            assertFalse(map.containsKey(key(1)));
            map.put(key(1), value(1));
            assertFalse(map.replace(key(1), value(3), value(2)), "current value differs");
            assertValue(value(1), map.get(key(1)));
            assertTrue(map.replace(key(1), value(1), value(2)), "equal (not identical) old value matches");
            assertValue(value(2), map.get(key(1)));
        }

        @Test
        void getOrDefault() {
            assertValue(value(9), map.getOrDefault(key(1), value(9)));
            assertNull(map.getOrDefault(key(1), null));
            map.put(key(1), value(1));
            assertValue(value(1), map.getOrDefault(key(1), value(9)));
        }

        @Test
        void compute() {
            final List<Object> seen = new ArrayList<>();
            assertValue(value(1), map.compute(key(1), (k, v) -> {
                seen.add(k);
                seen.add(v);
                return value(1);
            }));
            assertEquals(Arrays.asList(key(1), null), seen, "absent: function sees (key, null)");
            seen.clear();
            assertValue(value(2), map.compute(key(1), (k, v) -> {
                seen.add(v);
                return value(2);
            }));
            assertValue(value(1), castV(seen.get(0)));
            assertValue(value(2), map.get(key(1)));
            assertNull(map.compute(key(1), (k, v) -> null), "null removes");
            assertFalse(map.containsKey(key(1)));
            assertNull(map.compute(key(3), (k, v) -> null), "null on absent: nothing");
            assertFalse(map.containsKey(key(3)));
            map.put(key(4), value(4));
            assertThrows(ArithmeticException.class, () -> map.compute(key(4), (k, v) -> {
                throw new ArithmeticException("boom");
            }));
            assertThrows(ArithmeticException.class, () -> map.compute(key(5), (k, v) -> {
                throw new ArithmeticException("boom");
            }));
            assertContents(Map.of(key(4), value(4)));
        }

        @SuppressWarnings("unchecked")
        V castV(Object o) {
            return (V) o;
        }

        @Test
        void computeIfAbsent() {
            final AtomicInteger calls = new AtomicInteger();
            assertValue(value(1), map.computeIfAbsent(key(1), k -> {
                calls.incrementAndGet();
                assertEquals(key(1), k);
                return value(1);
            }));
            assertValue(value(1), map.computeIfAbsent(key(1), k -> {
                calls.incrementAndGet();
                return value(2);
            }));
            assertEquals(1, calls.get(), "present: the function is not called");
            assertNull(map.computeIfAbsent(key(2), k -> null), "null result: nothing inserted");
            assertFalse(map.containsKey(key(2)));
            assertThrows(IllegalArgumentException.class, () -> map.computeIfAbsent(key(3), k -> {
                throw new IllegalArgumentException("boom");
            }));
            assertContents(Map.of(key(1), value(1)));
        }

        @Test
        void computeIfPresent() {
            final AtomicInteger calls = new AtomicInteger();
            assertNull(map.computeIfPresent(key(1), (k, v) -> {
                calls.incrementAndGet();
                return value(1);
            }));
            assertEquals(0, calls.get(), "absent: the function is not called");
            assertFalse(map.containsKey(key(1)));
            map.put(key(1), value(1));
            assertValue(value(2), map.computeIfPresent(key(1), (k, v) -> {
                assertValue(value(1), v);
                return value(2);
            }));
            assertValue(value(2), map.get(key(1)));
            assertThrows(IllegalStateException.class, () -> map.computeIfPresent(key(1), (k, v) -> {
                throw new IllegalStateException("boom");
            }));
            assertValue(value(2), map.get(key(1)));
            assertNull(map.computeIfPresent(key(1), (k, v) -> null), "null removes");
            assertContents(Map.of());
        }

        @Test
        void merge() {
            final BiFunction<V, V, V> never = (a, b) -> fail("absent: the function must not be called");
            assertValue(value(1), map.merge(key(1), value(1), never));
            final List<V> seen = new ArrayList<>();
            assertValue(value(3), map.merge(key(1), value(2), (old, given) -> {
                seen.add(old);
                seen.add(given);
                return value(3);
            }));
            assertValue(value(1), seen.get(0));
            assertValue(value(2), seen.get(1));
            assertValue(value(3), map.get(key(1)));
            assertThrows(UnsupportedOperationException.class, () -> map.merge(key(1), value(5), (a, b) -> {
                throw new UnsupportedOperationException("boom");
            }));
            assertValue(value(3), map.get(key(1)));
            assertNull(map.merge(key(1), value(5), (a, b) -> null), "null removes");
            assertContents(Map.of());
        }

        @Test
        void forEachVisitsEveryEntryOnce() {
            final Map<K, V> expected = fill(200);
            final Map<K, V> visited = new HashMap<>();
            map.forEach((k, v) -> assertNull(visited.put(k, v), "visited twice: " + k));
            assertEquals(expected.keySet(), visited.keySet());
            visited.forEach((k, v) -> assertValue(expected.get(k), v));
        }

        @Test
        void replaceAll() {
            final Map<K, V> expected = new HashMap<>();
            for (int i = 0; i < 100; i++) {
                map.put(key(i), value(i));
                expected.put(key(i), value(i + 1000));
            }
            final Map<K, Integer> index = new HashMap<>();
            for (int i = 0; i < 100; i++) {
                index.put(key(i), i);
            }
            // Preemptive timeout: replaceAll retries a compare-and-replace, which never matched decoded arrays and
            // so spun forever (a hang detector, not a performance bound).
            assertTimeoutPreemptively(Duration.ofSeconds(30),
                () -> map.replaceAll((k, v) -> value(index.get(k) + 1000)));
            assertContents(expected);
            assertThrows(NullPointerException.class, () -> map.replaceAll((k, v) -> null));
        }

        // ---------------------------------------------------------------------------------------------- views

        @Test
        void keySetViewIsLive() {
            final Set<K> keys = map.keySet();
            assertTrue(keys.isEmpty());
            fill(20);
            assertEquals(20, keys.size(), "the view sees later writes");
            assertTrue(keys.contains(key(3)));
            assertFalse(keys.contains(key(30)));
            assertTrue(keys.remove(key(3)));
            assertFalse(keys.remove(key(3)));
            assertFalse(map.containsKey(key(3)));
            assertTrue(keys.removeAll(List.of(key(4), key(5), key(99))));
            assertFalse(keys.removeAll(List.of(key(99))));
            assertTrue(keys.removeAll(Arrays.asList(key(6), null)), "a null element in the argument is fine");
            assertEquals(16, map.size());
            final Set<K> keep = new HashSet<>(List.of(key(0), key(1), key(2), key(77)));
            assertTrue(keys.retainAll(keep));
            assertFalse(keys.retainAll(keep));
            assertEquals(Set.of(key(0), key(1), key(2)), new HashSet<>(keys));
            assertEquals(new HashSet<>(List.of(key(0), key(1), key(2))), keys, "set equality with a HashSet");
            assertThrows(UnsupportedOperationException.class, () -> keys.add(key(50)));
            keys.clear();
            assertTrue(map.isEmpty());
        }

        @Test
        void valuesViewIsLive() {
            final Collection<V> values = map.values();
            fill(20);
            assertEquals(20, values.size());
            assertTrue(values.contains(value(7)), "contains an equal value (arrays by content)");
            assertFalse(values.contains(value(70)));
            assertTrue(values.remove(value(7)));
            assertFalse(map.containsKey(key(7)));
            assertFalse(values.remove(value(7)));
            // removeAll asks the argument's contains: List.contains uses equals, identity for arrays.
            assertEquals(!arrayValues(), values.removeAll(List.of(value(8), value(9))));
            assertEquals(arrayValues(), map.containsKey(key(8)));
            assertEquals(arrayValues(), map.containsKey(key(9)));
            map.remove(key(8));
            map.remove(key(9));
            final List<V> keep = List.of(value(0), value(1));
            final boolean changed = values.retainAll(keep);
            if (arrayValues()) {
                // List.contains uses equals (identity for arrays): retainAll keeps nothing of a decoded copy.
                assertTrue(changed);
                assertTrue(map.isEmpty());
            } else {
                assertTrue(changed);
                assertEquals(2, map.size());
                assertTrue(map.containsKey(key(0)));
                assertTrue(map.containsKey(key(1)));
            }
            assertThrows(UnsupportedOperationException.class, () -> values.add(value(1)));
        }

        @Test
        void entrySetViewIsLiveAndSetValueWritesThrough() {
            final Set<Map.Entry<K, V>> entries = map.entrySet();
            fill(10);
            assertEquals(10, entries.size());
            assertTrue(entries.contains(new SimpleEntry<>(key(1), value(1))));
            assertFalse(entries.contains(new SimpleEntry<>(key(1), value(2))));
            assertFalse(entries.contains(new SimpleEntry<>(key(11), value(11))));
            assertFalse(entries.contains("not an entry"));
            assertFalse(entries.remove(new SimpleEntry<>(key(1), value(2))), "value differs: not removed");
            assertTrue(entries.remove(new SimpleEntry<>(key(1), value(1))));
            assertFalse(map.containsKey(key(1)));
            for (Map.Entry<K, V> e : entries) {
                if (e.getKey().equals(key(2))) {
                    assertValue(value(2), e.setValue(value(22)));
                    assertValue(value(22), e.getValue());
                }
            }
            assertValue(value(22), map.get(key(2)));
            // removeAll asks the argument's contains (SimpleEntry.equals: identity for arrays).
            assertEquals(!arrayValues(), entries.removeAll(List.of(new SimpleEntry<>(key(3), value(3)))));
            assertEquals(arrayValues(), map.containsKey(key(3)));
            map.remove(key(3));
            assertThrows(NullPointerException.class, () -> entries.iterator().next().setValue(null));
            assertThrows(UnsupportedOperationException.class,
                () -> entries.add(new SimpleEntry<>(key(40), value(40))));
            assertEquals(8, map.size());
        }

        @Test
        void iteratorRemove() {
            final Map<K, V> expected = fill(100);
            for (Iterator<K> it = map.keySet().iterator(); it.hasNext();) {
                final K k = it.next();
                if (k.hashCode() % 3 == 0) {
                    it.remove();
                    expected.remove(k);
                    assertThrows(IllegalStateException.class, it::remove, "second remove of the same element");
                }
            }
            assertContents(expected);
            for (Iterator<V> it = map.values().iterator(); it.hasNext();) {
                final V v = it.next();
                if (Arrays.deepHashCode(new Object[] {v}) % 2 == 0) {
                    it.remove();
                    expected.values().removeIf(x -> Objects.deepEquals(x, v));
                }
            }
            assertContents(expected);
            final Iterator<Map.Entry<K, V>> it = map.entrySet().iterator();
            assertThrows(IllegalStateException.class, it::remove, "remove before next");
            while (it.hasNext()) {
                it.next();
                it.remove();
            }
            assertThrows(NoSuchElementException.class, it::next);
            assertContents(Map.of());
        }

        // ---------------------------------------------------------------------------------------------- Object

        @Test
        void equalsHashCodeToStringAgreeWithHashMap() {
            final Map<K, V> hash = new HashMap<>();
            assertEquals(hash, map, "empty maps are equal");
            assertEquals(map, hash);
            assertEquals(hash.hashCode(), map.hashCode());
            assertEquals("{}", map.toString());
            map.put(key(1), value(1));
            hash.put(key(1), value(1));
            if (arrayValues()) {
                // Documented: Map.equals compares values with equals, identity for arrays; both directions agree.
                assertNotEquals(map, hash);
                assertNotEquals(hash, map);
                assertEquals(map.hashCode(), map.hashCode(), "stable although every get decodes a fresh array");
                assertEquals(key(1).hashCode() ^ Arrays.hashCode((byte[]) value(1)), map.hashCode(),
                    "array values hash by content");
                assertTrue(map.toString().startsWith("{" + key(1) + "=[B@"), map.toString());
                assertEquals(map, map);
                return;
            }
            assertEquals(hash.toString(), map.toString(), "single entry: same text");
            for (int i = 2; i < 50; i++) {
                map.put(key(i), value(i));
                hash.put(key(i), value(i));
            }
            assertEquals(hash, map);
            assertEquals(map, hash);
            assertEquals(map, new ConcurrentHashMap<>(hash));
            assertEquals(hash.hashCode(), map.hashCode());
            // Same text up to the order of the entries.
            final String text = map.toString();
            assertTrue(text.startsWith("{") && text.endsWith("}"), text);
            assertEquals(hash.toString().length(), text.length(), text);
            hash.forEach((k, v) -> assertTrue(text.contains("{" + k + "=" + v + ", ") || text.contains(", " + k + "="
                + v + ", ") || text.contains(", " + k + "=" + v + "}"), k + "=" + v));

            hash.put(key(1), value(2));
            assertNotEquals(hash, map, "a value differs");
            assertNotEquals(map, hash);
            hash.put(key(1), value(1));
            hash.remove(key(2));
            hash.put(key(99), value(2));
            assertNotEquals(hash, map, "same size, a key differs");
            assertNotEquals(map, hash);
            hash.remove(key(99));
            assertNotEquals(hash, map, "size differs");
            assertNotEquals(map, hash);
            assertNotEquals(map, "a string");
            assertNotEquals(map, null);

            final Map<Object, Object> withNull = new HashMap<>(map);
            withNull.remove(key(3));
            withNull.put(null, value(3));
            assertNotEquals(map, withNull, "a null key in the other map: not equal, no exception");
            assertNotEquals(withNull, map);
        }

        @Test
        void twoShardedMapsWithTheSameEntriesAreEqual() {
            fill(30);
            try (ShardedHashMap<K, V> other = config.withShards(1).newMap(0xD1FFL)) {
                for (int i = 29; i >= 0; i--) {
                    other.put(key(i), value(i));
                }
                if (arrayValues()) {
                    assertNotEquals(map, other);
                    assertEquals(map.hashCode(), other.hashCode(), "content hash does not depend on layout");
                } else {
                    assertEquals(map, other);
                    assertEquals(other, map);
                    assertEquals(map.hashCode(), other.hashCode());
                }
            }
        }

        // ---------------------------------------------------------------------------------------------- nulls

        @Test
        void nullKeysAndValuesAreRejectedLikeConcurrentHashMap() {
            fill(3);
            final K k = key(1);
            final V v = value(1);
            final List<Executable> calls = List.of(
                () -> map.get(null), () -> map.get(null, v), () -> map.containsKey(null), () -> map.contains(null),
                () -> map.containsValue(null), () -> map.getOrDefault(null, v),
                () -> map.put(null, v), () -> map.put(k, null), () -> map.set(null, v), () -> map.set(k, null),
                () -> map.insert(null, v), () -> map.insert(k, null),
                () -> map.remove(null), () -> map.remove(null, v), () -> map.remove(k, null),
                () -> map.putIfAbsent(null, v), () -> map.putIfAbsent(k, null),
                () -> map.replace(null, v), () -> map.replace(k, null),
                () -> map.replace(null, v, v), () -> map.replace(k, null, v), () -> map.replace(k, v, null),
                () -> map.compute(null, (a, b) -> v), () -> map.compute(k, null),
                () -> map.computeIfAbsent(null, a -> v), () -> map.computeIfAbsent(k, null),
                () -> map.computeIfPresent(null, (a, b) -> v), () -> map.computeIfPresent(k, null),
                () -> map.merge(null, v, (a, b) -> v), () -> map.merge(k, null, (a, b) -> v), () -> map.merge(k, v, null),
                () -> map.putAll(null), () -> map.putAll(mapWithNullKey(v)), () -> map.putAll(mapWithNullValue(k)),
                () -> map.forEach(null), () -> map.replaceAll(null), () -> map.retain(null),
                () -> map.batchInsert((Map<K, V>) null), () -> map.batchInsert(mapWithNullValue(k)),
                () -> map.batchInsert(Arrays.asList(new SimpleEntry<>(k, v), null)),
                () -> map.batchGet(null), () -> map.batchGet(Arrays.asList(k, null)),
                () -> map.batchRemove(null), () -> map.batchRemove(Arrays.asList(k, null)),
                () -> map.keySet().contains(null), () -> map.keySet().remove(null),
                () -> map.values().contains(null), () -> map.keySet().removeAll(null),
                () -> map.values().removeAll(null), () -> map.entrySet().removeAll(null));
            for (int i = 0; i < calls.size(); i++) {
                final int index = i;
                assertThrows(NullPointerException.class, calls.get(i), () -> "call #" + index);
            }
            // What ConcurrentHashMap answers without throwing:
            assertFalse(map.values().remove(null));
            assertFalse(map.entrySet().contains(null));
            assertFalse(map.entrySet().remove(null));
            assertFalse(map.entrySet().contains(new SimpleEntry<>(k, null)));
            assertFalse(map.entrySet().remove(new SimpleEntry<>(null, v)));
            final ConcurrentHashMap<K, V> chm = new ConcurrentHashMap<>();
            assertFalse(chm.values().remove(null));
            assertFalse(chm.entrySet().contains(null));
            assertThrows(NullPointerException.class, () -> chm.keySet().contains(null));
            // Nothing changed through all of that.
            final Map<K, V> expected = new HashMap<>();
            for (int i = 0; i < 3; i++) {
                expected.put(key(i), value(i));
            }
            assertContents(expected);
        }

        private Map<K, V> mapWithNullKey(V v) {
            final Map<K, V> m = new HashMap<>();
            m.put(key(50), v);
            m.put(null, v);
            return m;
        }

        private Map<K, V> mapWithNullValue(K k) {
            final Map<K, V> m = new LinkedHashMap<>();
            m.put(key(51), value(51));
            m.put(k, null);
            return m;
        }

        // ---------------------------------------------------------------------------------------------- seed API

        @Test
        void seedSingleKeyApi() {
            assertNull(map.insert(key(1), value(1)));
            assertValue(value(1), map.insert(key(1), value(2)));
            assertTrue(map.contains(key(1)));
            assertFalse(map.contains(key(2)));
            assertEquals(1L, map.len());
            assertEquals(1L, map.mappingCount());
            assertTrue(map.set(key(2), value(2)), "set reports a new key");
            assertFalse(map.set(key(2), value(3)), "set reports a replacement");
            assertValue(value(3), map.get(key(2)));
            assertValue(value(9), map.computeIfAbsent(key(9), k -> value(9)), "returns the inserted value");
            assertValue(value(9), map.computeIfAbsent(key(9), k -> value(8)), "returns the existing value");
            assertNull(map.computeIfPresent(key(9), (k, v) -> null), "seed: null removes");
            assertFalse(map.contains(key(9)));
            assertValue(value(2), map.remove(key(1)));
            assertEquals(1L, map.len());
            map.clear();
            assertEquals(0L, map.len());
            assertTrue(map.isEmpty());
        }

        @Test
        void batchInsertCountsNewKeysAndLaterDuplicatesWin() {
            map.put(key(0), value(0));
            final List<Map.Entry<K, V>> input = new ArrayList<>();
            input.add(new SimpleEntry<>(key(0), value(100)));   // existing: not new
            input.add(new SimpleEntry<>(key(1), value(1)));
            input.add(new SimpleEntry<>(key(2), value(2)));
            input.add(new SimpleEntry<>(key(1), value(101)));   // duplicate: wins, not new again
            input.add(new SimpleEntry<>(key(3), value(3)));
            assertEquals(3, map.batchInsert(input));
            assertContents(Map.of(key(0), value(100), key(1), value(101), key(2), value(2), key(3), value(3)));
            final Map<K, V> more = new LinkedHashMap<>();
            more.put(key(3), value(33));
            more.put(key(4), value(4));
            assertEquals(1, map.batchInsert(more));
            assertValue(value(33), map.get(key(3)));
            assertEquals(0, map.batchInsert(List.of()));
            assertEquals(0, map.batchInsert(Map.of()));
            assertEquals(5, map.size());
        }

        @Test
        void batchGetInInputOrder() {
            fill(5);
            final List<V> got = map.batchGet(List.of(key(4), key(9), key(0), key(4)));
            assertEquals(4, got.size());
            assertValue(value(4), got.get(0));
            assertNull(got.get(1));
            assertValue(value(0), got.get(2));
            assertValue(value(4), got.get(3));
            assertTrue(map.batchGet(List.of()).isEmpty());
        }

        @Test
        void batchRemoveCountsRemoved() {
            fill(5);
            assertEquals(2, map.batchRemove(List.of(key(1), key(9), key(3), key(1))));
            assertEquals(Set.of(key(0), key(2), key(4)), new HashSet<>(map.keySet()));
            assertEquals(0, map.batchRemove(List.of()));
        }

        @Test
        void retainKeepsWherePredicateHolds() {
            final Map<K, V> expected = fill(60);
            final Set<K> keep = new HashSet<>();
            for (int i = 0; i < 60; i += 3) {
                keep.add(key(i));
            }
            assertEquals(40, map.retain((k, v) -> keep.contains(k)));
            expected.keySet().retainAll(keep);
            assertContents(expected);
            assertEquals(0, map.retain((k, v) -> true));
            assertEquals(20, map.retain((k, v) -> false));
            assertTrue(map.isEmpty());
        }

        @Test
        void keysValuesIter() {
            final Map<K, V> expected = fill(40);
            assertEquals(expected.keySet(), new HashSet<>(map.keys()));
            assertEquals(40, map.keys().size());
            final List<V> values = new ArrayList<>(map.values());
            assertEquals(40, values.size());
            for (V v : expected.values()) {
                assertTrue(values.stream().anyMatch(x -> Objects.deepEquals(x, v)), () -> show(v));
            }
            int n = 0;
            for (Iterator<Map.Entry<K, V>> it = map.iter(); it.hasNext(); n++) {
                final Map.Entry<K, V> e = it.next();
                assertValue(expected.get(e.getKey()), e.getValue());
                if (n % 2 == 0) {
                    it.remove();
                }
            }
            assertEquals(40, n);
            assertEquals(20, map.size());
        }

        @Test
        void shardsAreCreatedLazilyByWritesOnly() {
            final int shards = config.shards();
            assertEquals(shards, map.shardCount());
            assertEquals(0, map.initializedShards(), "no shard after construction");
            for (int i = 0; i < 100; i++) {
                assertNull(map.get(key(i)));
                assertFalse(map.containsKey(key(i)));
                assertNull(map.remove(key(i)));
                assertFalse(map.remove(key(i), value(i)));
                assertNull(map.replace(key(i), value(i)));
                assertFalse(map.replace(key(i), value(i), value(i)));
                assertNull(map.computeIfPresent(key(i), (k, v) -> v));
            }
            assertTrue(map.batchGet(List.of(key(1), key(2))).stream().allMatch(Objects::isNull));
            assertEquals(0, map.batchRemove(List.of(key(1), key(2))));
            assertFalse(map.iter().hasNext());
            assertTrue(map.keys().isEmpty());
            assertFalse(map.containsValue(value(1)));
            assertEquals(0, map.size());
            assertEquals(0, map.retain((k, v) -> false));
            map.clear();
            assertEquals(new ShardStats(shards, 0, shards, 0.0, 0), map.shardStats());
            assertEquals(0, map.memoryStats().usedBytes(), "no off-heap memory before the first write");
            assertEquals(0, map.initializedShards(), "reads, iteration, removals of absent keys allocate nothing");
            map.put(key(1), value(1));
            assertEquals(1, map.initializedShards(), "the first write allocates its shard");
            for (int i = 0; i < 50 * shards; i++) {   // 50 keys per shard: every shard gets one
                map.put(key(i), value(i));
            }
            assertEquals(shards, map.initializedShards());
        }

        @Test
        void shardStatsPerShardLoadAndMemoryStats() {
            final int shards = config.shards();
            fill(400);
            final long[] loads = map.perShardLoad();
            assertEquals(shards, loads.length);
            assertEquals(400, Arrays.stream(loads).sum());
            final ShardStats stats = map.shardStats();
            assertEquals(shards, stats.totalShards());
            assertEquals(Arrays.stream(loads).filter(l -> l != 0).count(), stats.initializedShards(),
                "after writes only, the initialized shards are the non-empty ones");
            assertEquals(Arrays.stream(loads).filter(l -> l == 0).count(), stats.emptyShards());
            assertEquals(400.0 / shards, stats.averageLoad(), 1e-9);
            assertEquals(Arrays.stream(loads).max().orElseThrow(), stats.maxLoad());
            final MemoryStats memory = map.memoryStats();
            assertEquals(400, memory.entries());
            assertTrue(memory.usedBytes() > 0);
            assertTrue(memory.peakBytes() >= memory.usedBytes());
            assertTrue(memory.tableBytes() > 0);
            assertEquals(config.budgetBytes(), memory.budgetBytes());
            map.clear();
            assertEquals(0, map.memoryStats().entries());
            assertEquals(0, Arrays.stream(map.perShardLoad()).sum());
        }

        @Test
        void primitiveMethodsNeedLongToLong() {
            if (format() == Format.LONG_LONG) {
                // They apply: on an empty map each answers "absent" or writes.
                final ShardedHashMap<Long, Long> longs = castLongs();
                assertEquals(-1L, longs.getLong(1, -1));
                assertFalse(longs.containsLong(1));
                assertEquals(-1L, longs.removeLong(1, -1));
                final long[] values = {7};
                longs.getLongs(new long[] {1}, values, 0, 1, -1);
                assertEquals(-1L, values[0]);
                assertEquals(-1L, longs.putLong(1, 5, -1));
                assertEquals(6L, longs.addAndGetLong(1, 1));
                assertEquals(6L, longs.removeLong(1, -1));
                assertTrue(map.isEmpty());
                return;
            }
            assertThrows(UnsupportedOperationException.class, () -> map.getLong(1, -1));
            assertThrows(UnsupportedOperationException.class, () -> map.putLong(1, 1, -1));
            assertThrows(UnsupportedOperationException.class, () -> map.removeLong(1, -1));
            assertThrows(UnsupportedOperationException.class, () -> map.containsLong(1));
            assertThrows(UnsupportedOperationException.class, () -> map.addAndGetLong(1, 1));
            assertThrows(UnsupportedOperationException.class,
                () -> map.getLongs(new long[1], new long[1], 0, 1, -1));
        }

        @SuppressWarnings("unchecked")
        private ShardedHashMap<Long, Long> castLongs() {
            return (ShardedHashMap<Long, Long>) map;
        }

        @Test
        void getWithReuse() {
            map.put(key(1), value(1));
            assertValue(value(1), map.get(key(1), value(5)));
            assertValue(value(1), map.get(key(1), null));
            assertNull(map.get(key(2), value(5)));
        }

        /** This configuration's map and the same with one shard (or 64 if this one has one) agree. */
        @Test
        void singleShardAndManyShardsBehaveAlike() {
            final int otherShards = config.shards() == 1 ? 64 : 1;
            try (ShardedHashMap<K, V> other = config.withShards(otherShards).newMap()) {
                final Map<K, V> expected = new HashMap<>();
                for (int i = 0; i < 500; i++) {
                    for (ShardedHashMap<K, V> m : List.of(map, other)) {
                        m.put(key(i), value(i));
                        if (i % 4 == 0) {
                            m.remove(key(i / 2));
                        }
                    }
                    expected.put(key(i), value(i));
                    if (i % 4 == 0) {
                        expected.remove(key(i / 2));
                    }
                }
                assertContents(expected);
                assertEquals(expected.size(), other.size());
                for (int i = 0; i < 500; i++) {
                    assertValue(expected.get(key(i)), other.get(key(i)));
                }
                assertEquals(otherShards, other.shardCount());
            }
        }
    }
}
