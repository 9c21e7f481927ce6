package io.starshard.tests;

import io.starshard.MapInvariants;
import io.starshard.ShardedHashMap;
import io.starshard.tests.MapConfig.Format;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.AbstractCollection;
import java.util.AbstractMap.SimpleEntry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.function.BiPredicate;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded random single-thread operations on a {@link ShardedHashMap} and a {@link ConcurrentHashMap} oracle: every
 * method's return value (or exception class) must agree at every step, and the contents must agree at
 * checkpoints (size, equals both ways, hashCode, a full iteration, the map's own invariants).
 *
 * <p>Each run has three phases: a tiny key space (many collisions on the same keys, tombstones, re-inserts), a
 * growing key space (segment growth), and a shrinking one. The runs cover the {@link MapConfig#reduced} matrix of
 * four formats (inline {@code Long -> Long}; indirect {@code String -> String}, {@code String -> byte[]} and a Kryo
 * record): 12 runs, about 1.4 million operations by default; {@code -Dstarshard.stress=true} runs ten times as
 * many, {@code -Dstarshard.seed=N} replays another seed.
 *
 * <p>Array values: the oracle holds one canonical array per generated value, so its identity comparisons mean
 * what the map's content comparisons mean; results are compared by content, and {@code equals}/{@code hashCode}
 * are checked against what the map documents for arrays (a non-empty map equals only itself; content hash).
 */
@ExtendWith(ValidateMaps.class)
class DifferentialTest {
    private static final boolean STRESS = Boolean.getBoolean("starshard.stress");
    private static final long BASE_SEED = Long.getLong("starshard.seed", 0x5747_5348_4152_44L);
    private static final int OPS_PER_RUN = STRESS ? 1_200_000 : 120_000;
    private static final int CHECKPOINT_EVERY = 25_000;

    /** Thrown by user functions on both maps alike. */
    static final class Boom extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Boom() {
            super("boom", null, false, false);
        }
    }

    /** Key and value generators for one type pair; {@code value(i)} for small i repeats on purpose. */
    abstract static class Types<K, V> {
        abstract K key(int i);

        abstract V value(int i, SplittableRandom rnd);

        @SuppressWarnings("unchecked")
        static <K, V> Types<K, V> of(Format format) {
            return (Types<K, V>) switch (format) {
                case LONG_LONG -> new LongLong();
                case STRING_STRING -> new StringString();
                case STRING_BYTES -> new StringBytes();
                case LONG_ITEM -> new LongItem();
                default -> throw new IllegalArgumentException("no differential generators for " + format);
            };
        }
    }

    static final class LongLong extends Types<Long, Long> {
        @Override
        Long key(int i) {
            return (i & 1) == 0 ? (long) i : -31L * i;
        }

        @Override
        Long value(int i, SplittableRandom rnd) {
            return (long) i;
        }
    }

    static final class StringString extends Types<String, String> {
        @Override
        String key(int i) {
            return "key:" + i;
        }

        @Override
        String value(int i, SplittableRandom rnd) {
            // Mostly short, sometimes long: updates in place and re-allocations both happen.
            return (i % 5 == 0) ? "v" + i + "/" + "#".repeat(i % 300) : "v" + i;
        }
    }

    /**
     * Array values, one canonical instance per {@code i} (distinct contents, lengths 1 to 300): the oracle's identity
     * comparisons then agree with the map's content comparisons.
     */
    static final class StringBytes extends Types<String, byte[]> {
        private static final byte[][] VALUES = new byte[16][];

        static {
            for (int i = 0; i < VALUES.length; i++) {
                final byte[] v = new byte[1 + (i * 37) % 300];
                Arrays.fill(v, (byte) (i * 13 + 1));
                v[0] = (byte) i;
                VALUES[i] = v;
            }
        }

        @Override
        String key(int i) {
            return i % 3 == 0 ? "k\u00e9y:" + i : "key:" + i;
        }

        @Override
        byte[] value(int i, SplittableRandom rnd) {
            return VALUES[i];
        }
    }

    /** Kryo-coded record values of varying size. */
    static final class LongItem extends Types<Long, Item> {
        @Override
        Long key(int i) {
            return 7L * i - 1000;
        }

        @Override
        Item value(int i, SplittableRandom rnd) {
            return new Item(i, "item" + i + "-".repeat((i * 29) % 120), Item.Tag.values()[i % 3]);
        }
    }

    static Stream<MapConfig> runs() {
        return MapConfig.reduced(Format.LONG_LONG, Format.STRING_STRING, Format.STRING_BYTES, Format.LONG_ITEM);
    }

    /** The map is validated and closed by {@link ValidateMaps} after the run. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("runs")
    <K, V> void agreesWithConcurrentHashMap(MapConfig config) {
        final long seed = BASE_SEED + config.shards() * 1_000_003L + config.format().ordinal();
        final Types<K, V> types = Types.of(config.format());
        final ShardedHashMap<K, V> map = config.newMap(seed);
        new Run<>(config, types, map, new ConcurrentHashMap<>(), new SplittableRandom(seed), seed).run();
    }

    /** Results compared by content: arrays (also inside lists) become {@link Bytes}. */
    static Object canonical(Object o) {
        if (o instanceof byte[] b) {
            return new Bytes(b);
        }
        if (o instanceof List<?> list) {
            return list.stream().map(DifferentialTest::canonical).toList();
        }
        return o;
    }

    /** {@code hashCode}, arrays by content: what the map's own {@code hashCode} uses for array values. */
    static int contentHash(Object o) {
        return o instanceof byte[] b ? Arrays.hashCode(b) : o.hashCode();
    }

    /** An array compared, hashed and shown by content. */
    record Bytes(byte[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Bytes other && Arrays.equals(bytes, other.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }

        @Override
        public String toString() {
            return "byte[" + bytes.length + "]" + Arrays.hashCode(bytes);
        }
    }

    /**
     * A collection whose {@code contains} compares by content: {@code removeAll}/{@code retainAll} ask the argument,
     * and a {@code List} of arrays would answer by identity for the map's decoded copies but not for the oracle.
     */
    static <T> Collection<T> byContent(List<T> elements) {
        return new AbstractCollection<>() {
            @Override
            public boolean contains(Object o) {
                return elements.stream().anyMatch(e -> Objects.deepEquals(e, o));
            }

            @Override
            public Iterator<T> iterator() {
                return elements.iterator();
            }

            @Override
            public int size() {
                return elements.size();
            }
        };
    }

    /** One run: the random walk and its checks. */
    static final class Run<K, V> {
        private final MapConfig config;
        private final Types<K, V> types;
        private final ShardedHashMap<K, V> map;
        private final ConcurrentHashMap<K, V> oracle;
        private final SplittableRandom rnd;
        private final long seed;
        private int step;
        private String op = "";
        private int keySpace;
        private long tableBytesAfterTinyPhase;

        Run(MapConfig config, Types<K, V> types, ShardedHashMap<K, V> map, ConcurrentHashMap<K, V> oracle,
            SplittableRandom rnd, long seed) {
            this.config = config;
            this.types = types;
            this.map = map;
            this.oracle = oracle;
            this.rnd = rnd;
            this.seed = seed;
        }

        void run() {
            final int tiny = OPS_PER_RUN / 3;
            final int grow = OPS_PER_RUN / 3;
            for (step = 0; step < OPS_PER_RUN; step++) {
                final int writeBias;
                if (step < tiny) {
                    keySpace = 24;
                    writeBias = 50;
                } else if (step < tiny + grow) {
                    keySpace = 24 + (int) ((long) (step - tiny) * 40_000 / grow);
                    writeBias = 80;      // mostly inserts: the segments grow
                } else {
                    keySpace = 40_000;
                    writeBias = 25;      // mostly removals: tombstones, shrinking
                }
                if (step == tiny) {
                    tableBytesAfterTinyPhase = map.memoryStats().tableBytes();
                } else if (step == tiny + grow) {
                    final long grown = map.memoryStats().tableBytes();
                    assertTrue(grown > 4 * tableBytesAfterTinyPhase, () -> where() + ": the segments did not grow ("
                        + tableBytesAfterTinyPhase + " -> " + grown + " table bytes)");
                }
                oneOp(writeBias);
                if (step % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1) {
                    checkpoint();
                }
            }
            checkpoint();
            assertTrue(map.initializedShards() <= map.shardCount());
            System.out.println(config + ": " + OPS_PER_RUN + " operations agreed, seed "
                + seed + ", final size " + oracle.size() + ", " + map.memoryStats());
        }

        /** The last operations (step, name, key, results), printed on failure to make a divergence readable. */
        private final java.util.ArrayDeque<String> history = new java.util.ArrayDeque<>();
        private Object currentKey;

        private String where() {
            return "seed " + seed + ", step " + step + " (" + op + " on " + currentKey + "), key space " + keySpace
                + ", oracle size " + oracle.size() + "\nrecent operations on the same key:\n"
                + String.join("\n", history.stream().filter(h -> h.contains(" key=" + currentKey + " ")).toList())
                + "\nlast operations:\n" + String.join("\n", history.stream().skip(Math.max(0, history.size() - 12))
                .toList());
        }

        private void record(Object want, Object got) {
            if (history.size() == 4096) {
                history.removeFirst();
            }
            history.addLast(step + " " + op + " key=" + currentKey + " -> " + want + " / " + got);
        }

        private K anyKey() {
            return types.key(rnd.nextInt(keySpace));
        }

        private V anyValue() {
            return types.value(rnd.nextInt(16), rnd);
        }

        /** A value equal to the current one half of the time, so conditional operations succeed often. */
        private V likelyValue(K key) {
            final V current = oracle.get(key);
            return current != null && rnd.nextBoolean() ? current : anyValue();
        }

        /** Runs an operation on both maps: same result, or the same exception class. */
        private <T> void same(String name, Supplier<T> expected, Supplier<T> actual) {
            op = name;
            Object want;
            Object got;
            try {
                want = expected.get();
            } catch (RuntimeException e) {
                want = e.getClass();
            }
            try {
                got = actual.get();
            } catch (RuntimeException e) {
                if (!(want instanceof Class<?>) || want != e.getClass()) {
                    throw new AssertionError(where() + ": threw " + e + ", expected " + want, e);
                }
                got = e.getClass();
            }
            if (!Objects.equals(canonical(want), canonical(got))) {
                fail(where() + "\nexpected " + want + " but was " + got);
            }
            record(want, got);
        }

        /** A user function's behaviour, chosen before the call so both maps see the same one. */
        private <A, B> BiFunction<A, B, V> remapping() {
            final int mode = rnd.nextInt(10);
            final V next = anyValue();
            return (a, b) -> {
                if (mode == 0) {
                    return null;
                }
                if (mode == 1) {
                    throw new Boom();
                }
                return next;
            };
        }

        private Function<K, V> mapping() {
            final BiFunction<K, Object, V> f = remapping();
            return k -> f.apply(k, null);
        }

        private void oneOp(int writeBias) {
            final K k = anyKey();
            currentKey = k;
            final boolean write = rnd.nextInt(100) < writeBias;
            if (write) {
                writeOp(k);
            } else {
                readOrRemoveOp(k);
            }
        }

        private void writeOp(K k) {
            final V v = anyValue();
            switch (rnd.nextInt(14)) {
                case 0, 1, 2 -> same("put", () -> oracle.put(k, v), () -> map.put(k, v));
                case 3 -> same("set", () -> oracle.put(k, v) == null, () -> map.set(k, v));
                case 4 -> same("putIfAbsent", () -> oracle.putIfAbsent(k, v), () -> map.putIfAbsent(k, v));
                case 5 -> same("replace", () -> oracle.replace(k, v), () -> map.replace(k, v));
                case 6 -> {
                    final V old = likelyValue(k);
                    same("replace(k,old,new)", () -> oracle.replace(k, old, v), () -> map.replace(k, old, v));
                }
                case 7 -> {
                    final BiFunction<K, V, V> f = remapping();
                    same("compute", () -> oracle.compute(k, f), () -> map.compute(k, f));
                }
                case 8 -> {
                    final Function<K, V> f = mapping();
                    same("computeIfAbsent", () -> oracle.computeIfAbsent(k, f), () -> map.computeIfAbsent(k, f));
                }
                case 9 -> {
                    final BiFunction<K, V, V> f = remapping();
                    same("computeIfPresent", () -> oracle.computeIfPresent(k, f), () -> map.computeIfPresent(k, f));
                }
                case 10, 11 -> {
                    final BiFunction<V, V, V> f = remapping();
                    same("merge", () -> oracle.merge(k, v, f), () -> map.merge(k, v, f));
                }
                case 12 -> batchWrite();
                default -> {
                    if (config.format() == Format.LONG_LONG) {
                        primitiveWrite(k, v);
                    } else {
                        same("insert", () -> oracle.put(k, v), () -> map.insert(k, v));
                    }
                }
            }
        }

        @SuppressWarnings("unchecked")
        private void primitiveWrite(K k, V v) {
            final ShardedHashMap<Long, Long> longs = (ShardedHashMap<Long, Long>) map;
            final ConcurrentHashMap<Long, Long> longOracle = (ConcurrentHashMap<Long, Long>) oracle;
            final long key = (Long) k;
            final long value = (Long) v;
            switch (rnd.nextInt(3)) {
                case 0 -> same("putLong", () -> orMissing(longOracle.put(key, value)),
                    () -> longs.putLong(key, value, Long.MIN_VALUE));
                case 1 -> same("addAndGetLong", () -> longOracle.merge(key, value, Long::sum),
                    () -> longs.addAndGetLong(key, value));
                default -> same("removeLong", () -> orMissing(longOracle.remove(key)),
                    () -> longs.removeLong(key, Long.MIN_VALUE));
            }
        }

        private static long orMissing(Long value) {
            return value == null ? Long.MIN_VALUE : value;
        }

        private void batchWrite() {
            final int n = rnd.nextInt(12);
            final List<Map.Entry<K, V>> input = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                input.add(new SimpleEntry<>(anyKey(), anyValue()));
            }
            if (rnd.nextBoolean()) {
                same("batchInsert", () -> {
                    int added = 0;
                    for (Map.Entry<K, V> e : input) {
                        if (oracle.put(e.getKey(), e.getValue()) == null) {
                            added++;
                        }
                    }
                    return added;
                }, () -> map.batchInsert(input));
            } else {
                final Map<K, V> m = new HashMap<>();
                input.forEach(e -> m.put(e.getKey(), e.getValue()));
                same("putAll", () -> {
                    oracle.putAll(m);
                    return null;
                }, () -> {
                    map.putAll(m);
                    return null;
                });
            }
        }

        private void readOrRemoveOp(K k) {
            switch (rnd.nextInt(18)) {
                case 0, 1, 2 -> same("get", () -> oracle.get(k), () -> map.get(k));
                case 3 -> same("containsKey", () -> oracle.containsKey(k), () -> map.containsKey(k));
                case 4 -> {
                    final V d = anyValue();
                    same("getOrDefault", () -> oracle.getOrDefault(k, d), () -> map.getOrDefault(k, d));
                }
                case 5, 6, 7 -> same("remove", () -> oracle.remove(k), () -> map.remove(k));
                case 8 -> {
                    final V v = likelyValue(k);
                    same("remove(k,v)", () -> oracle.remove(k, v), () -> map.remove(k, v));
                }
                case 9 -> same("keySet.remove", () -> oracle.keySet().remove(k), () -> map.keySet().remove(k));
                case 10 -> {
                    final Map.Entry<K, V> e = new SimpleEntry<>(k, likelyValue(k));
                    if (rnd.nextBoolean()) {
                        same("entrySet.remove", () -> oracle.entrySet().remove(e), () -> map.entrySet().remove(e));
                    } else {
                        same("entrySet.contains", () -> oracle.entrySet().contains(e),
                            () -> map.entrySet().contains(e));
                    }
                }
                case 11 -> {
                    final List<K> keys = new ArrayList<>();
                    for (int i = rnd.nextInt(10); i > 0; i--) {
                        keys.add(anyKey());
                    }
                    if (rnd.nextBoolean()) {
                        same("batchGet", () -> {
                            final List<V> values = new ArrayList<>();
                            keys.forEach(key -> values.add(oracle.get(key)));
                            return values;
                        }, () -> map.batchGet(keys));
                    } else {
                        same("batchRemove", () -> {
                            int removed = 0;
                            for (K key : keys) {
                                if (oracle.remove(key) != null) {
                                    removed++;
                                }
                            }
                            return removed;
                        }, () -> map.batchRemove(keys));
                    }
                }
                case 12 -> same("size", oracle::size, map::size);
                case 13 -> same("isEmpty", oracle::isEmpty, map::isEmpty);
                case 14 -> {
                    if (config.format() == Format.LONG_LONG) {
                        primitiveRead(k);
                    } else {
                        same("contains", () -> oracle.containsKey(k), () -> map.contains(k));
                    }
                }
                default -> {
                    // Whole-map operations cost O(size): rare, more so when the map is large.
                    if (rnd.nextInt(1 + oracle.size() / 8) == 0) {
                        wholeMapOp();
                    } else {
                        same("get", () -> oracle.get(k), () -> map.get(k));
                    }
                }
            }
        }

        @SuppressWarnings("unchecked")
        private void primitiveRead(K k) {
            final ShardedHashMap<Long, Long> longs = (ShardedHashMap<Long, Long>) map;
            final ConcurrentHashMap<Long, Long> longOracle = (ConcurrentHashMap<Long, Long>) oracle;
            final long key = (Long) k;
            switch (rnd.nextInt(3)) {
                case 0 -> same("getLong", () -> orMissing(longOracle.get(key)), () -> longs.getLong(key, Long.MIN_VALUE));
                case 1 -> same("containsLong", () -> longOracle.containsKey(key), () -> longs.containsLong(key));
                default -> {
                    // up to 150 keys (more than two read sections), starting with k, written from index 1 on
                    final long[] keys = new long[2 + rnd.nextInt(150)];
                    for (int i = 0; i < keys.length; i++) {
                        keys[i] = i <= 1 ? key : (Long) anyKey();
                    }
                    same("getLongs", () -> {
                        final List<Long> want = new ArrayList<>();
                        for (int i = 1; i < keys.length; i++) {
                            want.add(orMissing(longOracle.get(keys[i])));
                        }
                        return want;
                    }, () -> {
                        final long[] values = new long[keys.length];
                        longs.getLongs(keys, values, 1, keys.length - 1, Long.MIN_VALUE);
                        final List<Long> got = new ArrayList<>();
                        for (int i = 1; i < keys.length; i++) {
                            got.add(values[i]);
                        }
                        return got;
                    });
                }
            }
        }

        private void wholeMapOp() {
            final int salt = rnd.nextInt();
            final BiPredicate<K, V> pred = (k, v) -> ((k.hashCode() ^ contentHash(v) ^ salt) & 7) != 0;
            switch (rnd.nextInt(12)) {
                case 0 -> {
                    final V v = anyValue();
                    same("containsValue", () -> oracle.containsValue(v), () -> map.containsValue(v));
                }
                case 1 -> {
                    // values().remove removes one entry with the value, which one depends on iteration order:
                    // only comparable when at most one key holds it.
                    final V v = anyValue();
                    if (oracle.values().stream().filter(v::equals).count() <= 1) {
                        same("values.remove", () -> oracle.values().remove(v), () -> map.values().remove(v));
                    } else {
                        same("values.contains", () -> oracle.values().contains(v), () -> map.values().contains(v));
                    }
                }
                case 2 -> same("iterator.remove", () -> removeByIterator(oracle.keySet().iterator(), salt),
                    () -> removeByIterator(map.keySet().iterator(), salt));
                case 3 -> same("entryIterator.remove", () -> removeEntriesByIterator(oracle.entrySet().iterator(), salt),
                    () -> removeEntriesByIterator(map.entrySet().iterator(), salt));
                case 4 -> {
                    final V v = anyValue();
                    same("replaceAll", () -> {
                        oracle.replaceAll((k, old) -> pred.test(k, old) ? old : v);
                        return null;
                    }, () -> {
                        map.replaceAll((k, old) -> pred.test(k, old) ? old : v);
                        return null;
                    });
                }
                case 5 -> same("retain", () -> {
                    final int before = oracle.size();
                    oracle.entrySet().removeIf(e -> !pred.test(e.getKey(), e.getValue()));
                    return before - oracle.size();
                }, () -> map.retain(pred));
                case 6 -> {
                    final List<K> keys = someKeys();
                    same("keySet.removeAll", () -> oracle.keySet().removeAll(keys), () -> map.keySet().removeAll(keys));
                }
                case 7 -> {
                    final Set<K> keep = new java.util.HashSet<>(oracle.keySet());
                    keep.removeIf(key -> (key.hashCode() & 3) == (salt & 3));
                    same("keySet.retainAll", () -> oracle.keySet().retainAll(keep),
                        () -> map.keySet().retainAll(keep));
                }
                case 8 -> {
                    final Collection<V> drop = byContent(List.of(anyValue(), anyValue()));
                    same("values.removeAll", () -> oracle.values().removeAll(drop), () -> map.values().removeAll(drop));
                }
                case 9 -> {
                    final V v = anyValue();
                    same("entry.setValue", () -> setValues(oracle.entrySet().iterator(), salt, v),
                        () -> setValues(map.entrySet().iterator(), salt, v));
                }
                case 10 -> {
                    if (rnd.nextInt(20) == 0) {
                        same("clear", () -> {
                            oracle.clear();
                            return null;
                        }, () -> {
                            map.clear();
                            return null;
                        });
                    }
                }
                default -> checkpoint();
            }
        }

        private List<K> someKeys() {
            final List<K> keys = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                keys.add(anyKey());
            }
            return keys;
        }

        private int removeByIterator(Iterator<K> it, int salt) {
            int removed = 0;
            while (it.hasNext()) {
                if ((it.next().hashCode() & 7) == (salt & 7)) {
                    it.remove();
                    removed++;
                }
            }
            return removed;
        }

        private int removeEntriesByIterator(Iterator<Map.Entry<K, V>> it, int salt) {
            int removed = 0;
            while (it.hasNext()) {
                final Map.Entry<K, V> e = it.next();
                if (((e.getKey().hashCode() + contentHash(e.getValue())) & 15) == (salt & 15)) {
                    it.remove();
                    removed++;
                }
            }
            return removed;
        }

        private int setValues(Iterator<Map.Entry<K, V>> it, int salt, V v) {
            int set = 0;
            while (it.hasNext()) {
                final Map.Entry<K, V> e = it.next();
                if ((e.getKey().hashCode() & 31) == (salt & 31)) {
                    e.setValue(v);
                    set++;
                }
            }
            return set;
        }

        private void checkpoint() {
            op = "checkpoint";
            assertEquals(oracle.size(), map.size(), this::where);
            assertEquals(oracle.isEmpty(), map.isEmpty(), this::where);
            assertEquals(oracle.size(), map.mappingCount(), this::where);
            final Map<K, Object> iterated = new HashMap<>();
            for (Map.Entry<K, V> e : map.entrySet()) {
                if (iterated.put(e.getKey(), canonical(e.getValue())) != null) {
                    fail(where() + ": key iterated twice: " + e.getKey());
                }
            }
            final Map<K, Object> expected = new HashMap<>();
            oracle.forEach((k, v) -> expected.put(k, canonical(v)));
            if (!expected.equals(iterated)) {
                fail(where() + ": iteration differs from the oracle");
            }
            if (config.format() == Format.STRING_BYTES) {
                // Documented: Map.equals compares values with equals (identity for arrays), both ways alike; the
                // map's hashCode hashes arrays by content.
                assertEquals(oracle.isEmpty(), map.equals(oracle), this::where);
                assertEquals(oracle.isEmpty(), oracle.equals(map), this::where);
                int contentHashCode = 0;
                for (Map.Entry<K, V> e : oracle.entrySet()) {
                    contentHashCode += e.getKey().hashCode() ^ contentHash(e.getValue());
                }
                assertEquals(contentHashCode, map.hashCode(), this::where);
            } else {
                assertTrue(map.equals(oracle), this::where);
                assertTrue(oracle.equals(map), this::where);
                assertEquals(oracle.hashCode(), map.hashCode(), this::where);
            }
            assertEquals(oracle.size(), java.util.Arrays.stream(map.perShardLoad()).sum(), this::where);
            assertEquals(oracle.size(), map.memoryStats().entries(), this::where);
            assertEquals(oracle.size(), map.keys().size(), this::where);
            MapInvariants.checkLive(map);
        }
    }
}
