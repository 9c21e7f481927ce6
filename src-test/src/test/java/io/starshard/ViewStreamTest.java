package io.starshard;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.Spliterator;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static io.starshard.StressSupport.Workers;
import static io.starshard.StressSupport.checkLongValue;
import static io.starshard.StressSupport.longValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Streams over the live views ({@code keySet()}, {@code values()}, {@code entrySet()}) while the map changes.
 *
 * <p>The views' iterators are weakly consistent (each shard copied under its lock, one at a time), so a stream over
 * a view must not promise a size: like {@code ConcurrentHashMap}'s views, their spliterators must report
 * {@code CONCURRENT} and {@code NONNULL} ({@code DISTINCT} for the key and entry sets) and neither {@code SIZED} nor
 * {@code SUBSIZED}. A {@code SIZED} spliterator makes {@code toArray()} allocate {@code size()} slots up front and
 * throw {@code IllegalStateException("Accept exceeded fixed size ...")} or {@code ("End size ... is less than
 * fixed size ...")} when the traversal sees more or fewer entries, and makes {@code count()} answer {@code size()}
 * without traversing.
 */
class ViewStreamTest {
    /** Keys the writer works on: small, so that one traversal is short and many rounds fit in the time. */
    private static final int KEYS = 512;
    /** Stream rounds against the concurrent writer (bounded by {@link #MILLIS} too). */
    private static final int ROUNDS = StressSupport.STRESS ? 200_000 : 3_000;
    private static final long MILLIS = StressSupport.phaseMillis(1, 2_000);

    private static ShardedHashMap<Long, Long> filledMap(int shards, int keys) {
        final ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(shards).build();
        for (long k = 0; k < keys; k++) {
            map.putLong(k, longValue(k, 0), -1L);
        }
        return map;
    }

    // =========================================================================================================
    // Characteristics
    // =========================================================================================================

    @Test
    void liveViewSpliteratorsAreConcurrentNonnullAndNotSizedLikeConcurrentHashMap() {
        final ConcurrentHashMap<Long, Long> chm = new ConcurrentHashMap<>(Map.of(1L, 1L, 2L, 2L));
        try (ShardedHashMap<Long, Long> map = filledMap(8, 100)) {
            final List<String> wrong = new ArrayList<>();
            final int set = Spliterator.CONCURRENT | Spliterator.NONNULL | Spliterator.DISTINCT;
            final int collection = Spliterator.CONCURRENT | Spliterator.NONNULL;
            final int never = Spliterator.SIZED | Spliterator.SUBSIZED;
            // The oracle first: ConcurrentHashMap's views have exactly these properties.
            checkCharacteristics("ConcurrentHashMap.keySet()", chm.keySet().spliterator(), set, never, wrong);
            checkCharacteristics("ConcurrentHashMap.values()", chm.values().spliterator(), collection, never, wrong);
            checkCharacteristics("ConcurrentHashMap.entrySet()", chm.entrySet().spliterator(), set, never, wrong);
            assertEquals(List.of(), wrong, "the oracle does not have the properties this test asks for");
            checkCharacteristics("keySet()", map.keySet().spliterator(), set, never, wrong);
            checkCharacteristics("values()", map.values().spliterator(), collection, never, wrong);
            checkCharacteristics("entrySet()", map.entrySet().spliterator(), set, never, wrong);
            assertEquals(List.of(), wrong, "view spliterators of a weakly consistent map");
        }
    }

    private static void checkCharacteristics(String view, Spliterator<?> spliterator, int required, int forbidden,
                                             List<String> wrong) {
        final int c = spliterator.characteristics();
        if ((c & required) != required || (c & forbidden) != 0) {
            wrong.add(view + " reports " + describe(c) + "; needs " + describe(required) + ", never "
                + describe(forbidden));
        }
    }

    private static String describe(int characteristics) {
        final List<String> names = new ArrayList<>();
        final String[] all = {"ORDERED", "DISTINCT", "SORTED", "SIZED", "NONNULL", "IMMUTABLE", "CONCURRENT",
            "SUBSIZED"};
        final int[] bits = {Spliterator.ORDERED, Spliterator.DISTINCT, Spliterator.SORTED, Spliterator.SIZED,
            Spliterator.NONNULL, Spliterator.IMMUTABLE, Spliterator.CONCURRENT, Spliterator.SUBSIZED};
        for (int i = 0; i < bits.length; i++) {
            if ((characteristics & bits[i]) != 0) {
                names.add(all[i]);
            }
        }
        return names.toString();
    }

    // =========================================================================================================
    // Writes during the stream's own traversal: deterministic
    // =========================================================================================================

    /**
     * The pipeline itself removes every key, or adds 200 new ones, at its first element: the traversal then sees
     * fewer (or more) entries than {@code size()} said when it started, as any weakly consistent view may. Every
     * view's {@code toArray()}, {@code collect(toList())} and {@code count()} must still work and return only
     * entries that were present at some point, each key at most once.
     */
    @Test
    void liveViewStreamsSurviveWritesDuringTheirOwnTraversal() {
        final List<String> failures = new ArrayList<>();
        for (boolean remove : new boolean[] {true, false}) {
            for (String view : List.of("keySet", "values", "entrySet")) {
                for (String terminal : List.of("toArray", "collect", "count")) {
                    try (ShardedHashMap<Long, Long> map = filledMap(64, 200)) {
                        final String what = view + "().stream()." + terminal + "() while the pipeline "
                            + (remove ? "removes every key" : "adds 200 keys");
                        try {
                            final boolean[] first = {true};
                            final Consumer<Object> write = element -> {
                                if (first[0]) {
                                    first[0] = false;
                                    for (long k = 0; k < 200; k++) {
                                        if (remove) {
                                            map.removeLong(k, -1L);   // also the current one: it is buffered
                                        } else {
                                            map.putLong(1_000 + k, longValue(1_000 + k, 0), -1L);
                                        }
                                    }
                                }
                            };
                            final long n = streamOnce(map, view, terminal, write);
                            assertTrue(n >= 1 && n <= 400, what + ": " + n + " elements");
                        } catch (RuntimeException | AssertionError e) {
                            failures.add(what + ": " + e);
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), failures, "streams over live views that failed when the map changed under them");
    }

    /**
     * One stream over a view with an action run on each element first; validates what the stream returned.
     *
     * @return how many elements it returned
     */
    private static long streamOnce(ShardedHashMap<Long, Long> map, String view, String terminal,
                                   Consumer<Object> action) {
        final Collection<?> source = switch (view) {
            case "keySet" -> map.keySet();
            case "values" -> map.values();
            default -> map.entrySet();
        };
        final List<Object> seen;
        switch (terminal) {
            case "count" -> {
                return source.stream().peek(action).count();
            }
            case "toArray" -> seen = List.of(source.stream().peek(action).toArray());
            default -> seen = source.stream().peek(action).collect(Collectors.toList());
        }
        final Set<Object> distinct = new HashSet<>();
        for (Object element : seen) {
            if (element instanceof Long key && view.equals("keySet")) {
                assertTrue(distinct.add(key), "key " + key + " twice");
            } else if (element instanceof Long value) {
                assertTrue(value >= 0, "value " + value);
            } else {
                final Map.Entry<?, ?> e = (Map.Entry<?, ?>) element;
                assertTrue(distinct.add(e.getKey()), "entry of key " + e.getKey() + " twice");
                checkLongValue((Long) e.getKey(), (Long) e.getValue());
            }
        }
        return seen.size();
    }

    // =========================================================================================================
    // Writes by another thread
    // =========================================================================================================

    /**
     * A writer puts and removes keys all the time while this thread streams the three views, round after round:
     * {@code keySet().stream().count()}, {@code keySet().stream().toArray()}, {@code entrySet().stream().collect(...)}
     * (to a list and to a map, which refuses a duplicate key), {@code values().stream().toArray()} and a parallel
     * stream. None may throw; each result holds only self-checking values, each key at most once.
     */
    @Test
    void liveViewStreamsSurviveConcurrentWrites() throws Exception {
        try (ShardedHashMap<Long, Long> map = filledMap(8, KEYS / 2)) {
            final Workers writer = new Workers("view-stream-writer");
            final LongAdder writes = new LongAdder();
            writer.add("writer", () -> {
                final SplittableRandom rnd = new SplittableRandom(17);
                for (long version = 1; !writer.stop; version++) {
                    final long k = rnd.nextInt(KEYS);
                    if (rnd.nextBoolean()) {
                        map.putLong(k, longValue(k, version), -1L);
                    } else {
                        map.removeLong(k, -1L);
                    }
                    writes.increment();
                }
            });
            writer.start();
            int round = 0;
            try {
                final long deadline = System.nanoTime() + MILLIS * 1_000_000L;
                for (; round < ROUNDS && !writer.failed() && System.nanoTime() < deadline; round++) {
                    streamRound(map, round);
                }
            } finally {
                writer.stop = true;
                writer.joinAndCheck();
            }
            System.out.printf("ViewStreamTest: %d stream rounds against %d concurrent writes%n", round, writes.sum());
        }
    }

    private static void streamRound(ShardedHashMap<Long, Long> map, int round) {
        final String[] names = {"keySet().stream().count()", "keySet().stream().toArray()",
            "entrySet().stream().collect(toList())", "entrySet().stream().collect(toMap)",
            "values().stream().toArray()",
            "keySet().parallelStream().toArray()"};
        final int op = round % names.length;
        try {
            switch (op) {
                case 0 -> {
                    final long n = map.keySet().stream().count();
                    assertTrue(n >= 0 && n <= KEYS, "count " + n);
                }
                case 1 -> checkKeys(map.keySet().stream().toArray());
                case 2 -> {
                    final List<Map.Entry<Long, Long>> entries = map.entrySet().stream().collect(Collectors.toList());
                    final Set<Long> keys = new HashSet<>();
                    for (Map.Entry<Long, Long> e : entries) {
                        assertTrue(keys.add(e.getKey()), "entry of key " + e.getKey() + " twice");
                        checkLongValue(e.getKey(), e.getValue());
                    }
                }
                case 3 -> map.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue))
                    .forEach(StressSupport::checkLongValue);
                case 4 -> {
                    for (Object v : map.values().stream().toArray()) {
                        assertTrue(v instanceof Long value && value >= 0, "value " + v);
                    }
                }
                default -> checkKeys(map.keySet().parallelStream().toArray());
            }
        } catch (RuntimeException e) {
            throw new AssertionError("round " + round + ", " + names[op] + " under concurrent writes threw " + e, e);
        }
    }

    private static void checkKeys(Object[] keys) {
        final Set<Object> distinct = new HashSet<>();
        for (Object k : keys) {
            assertTrue(k instanceof Long key && key >= 0 && key < KEYS, "key " + k);
            assertTrue(distinct.add(k), "key " + k + " twice");
        }
    }
}
