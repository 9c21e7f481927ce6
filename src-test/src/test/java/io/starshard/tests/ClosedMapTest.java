package io.starshard.tests;

import io.starshard.ShardedHashMap;
import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Spliterator;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.BiPredicate;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * After {@code close()}, every public method of the map, of its views and of their iterators throws
 * {@code IllegalStateException("map is closed")}: found by reflection, so that a method added later is covered
 * without anyone remembering to list it (BadInputTest lists the calls by hand).
 *
 * <p>Exempt on the map: {@code close()} (idempotent), {@code isClosed()}, {@code memoryStats()} and
 * {@code snapshotStats()} (answer after close so that a caller can check every byte came back), {@code toString()} ("ShardedHashMap{closed}"), static
 * factories, and {@code Object}'s final methods. On the views: {@code toString()} like the map's,
 * {@code stream()}/{@code parallelStream()}/{@code spliterator()} (lazy by contract: their first traversal is
 * checked instead), {@code add}/{@code addAll} (unsupported: {@code UnsupportedOperationException} is as right),
 * and {@code equals}/{@code hashCode} where the view keeps {@code Object}'s identity versions.
 */
class ClosedMapTest {
    private static final String CLOSED = "map is closed";
    private static final Set<String> EXEMPT = Set.of("close", "isClosed", "memoryStats", "snapshotStats", "toString");

    /** Plausible non-null arguments for the map's methods, by parameter type ({@code K} and {@code V} are Long). */
    private static Object mapArgument(Method m, Class<?> type) {
        if (type == long.class) {
            return 1L;
        } else if (type == int.class) {
            return 1;   // getLongs(keys, values, offset 1, length 1): a valid range of the arrays below
        } else if (type == long[].class) {
            return new long[] {1L, 2L};
        } else if (type == Object.class) {
            return m.getName().equals("equals") ? Map.of(1L, 1L) : 1L;   // a key or a value
        } else if (type == Map.class) {
            return Map.of(1L, 1L);
        } else if (type == Collection.class) {
            return m.getName().equals("batchInsert") ? List.of(Map.entry(1L, 1L)) : List.of(1L);
        } else if (type == Function.class) {
            return (Function<Long, Long>) k -> 1L;
        } else if (type == BiFunction.class) {
            return (BiFunction<Long, Long, Long>) (a, b) -> 1L;
        } else if (type == BiConsumer.class) {
            return (BiConsumer<Long, Long>) (a, b) -> { };
        } else if (type == BiPredicate.class) {
            return (BiPredicate<Long, Long>) (a, b) -> true;
        } else if (type == java.time.Duration.class) {
            return java.time.Duration.ofMillis(1);
        } else if (type == io.starshard.RebalanceOptions.class) {
            return io.starshard.RebalanceOptions.defaults();
        } else if (type == java.nio.file.Path.class) {
            return java.nio.file.Path.of(System.getProperty("java.io.tmpdir"), "closed-map-never-written.map");
        } else if (type == java.util.concurrent.Executor.class) {
            return (java.util.concurrent.Executor) Runnable::run;
        } else if (type == io.starshard.PersistenceListener.class) {
            return (io.starshard.PersistenceListener) (done, total, bytes) -> { };
        }
        throw new AssertionError("no plausible argument of " + type.getName() + " for " + m
            + ": add one to ClosedMapTest.mapArgument");
    }

    /** The public instance methods of the map (its own and its interfaces'), minus the exempt ones, in name order. */
    private static List<Method> mapMethods() {
        return Arrays.stream(ShardedHashMap.class.getMethods())
            .filter(m -> !Modifier.isStatic(m.getModifiers()) && !m.isSynthetic() && !m.isBridge())
            .filter(m -> m.getDeclaringClass() != Object.class)   // getClass, notify, notifyAll, wait
            .filter(m -> !EXEMPT.contains(m.getName()))
            .sorted(Comparator.comparing(ClosedMapTest::signature))
            .toList();
    }

    private static String signature(Method m) {
        return m.getName() + Arrays.stream(m.getParameterTypes()).map(Class::getSimpleName)
            .collect(Collectors.joining(", ", "(", ")"));
    }

    /**
     * Calls {@code m} on {@code target}; a description of what it did instead of throwing "map is closed", or null.
     */
    private static String callExpectingClosed(Object target, Method m, Object[] args, Set<Class<?>> alsoRight) {
        try {
            final Object result = m.invoke(target, args);
            return signature(m) + " returned " + show(result);
        } catch (InvocationTargetException e) {
            final Throwable t = e.getCause();
            if (t instanceof IllegalStateException && CLOSED.equals(t.getMessage())) {
                return null;
            }
            if (alsoRight.contains(t.getClass())) {
                return null;
            }
            return signature(m) + " threw " + t;
        } catch (IllegalAccessException e) {
            throw new AssertionError(m + " is not accessible", e);
        }
    }

    private static String show(Object result) {
        if (result == null) {
            return "null";
        }
        String text;
        try {
            text = result.getClass().isArray() ? "an array" : String.valueOf(result);
        } catch (RuntimeException e) {   // a view returned by a closed map: its toString() throws
            text = "(its toString() threw " + e.getMessage() + ")";
        }
        return result.getClass().getSimpleName() + " " + (text.length() > 60 ? text.substring(0, 60) + "..." : text);
    }

    @Test
    void everyPublicMethodFoundByReflectionThrowsMapIsClosed() {
        final List<Method> methods = mapMethods();
        assertTrue(methods.size() > 40, "reflection found only " + methods.size() + " methods");
        final List<String> answered = new ArrayList<>();
        // A map whose shards partly exist (10 keys in 64 shards), and one that was never written (none exist).
        for (int prefill : new int[] {10, 0}) {
            final ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(64).build();
            for (long k = 0; k < prefill; k++) {
                map.put(k, k);
            }
            map.close();
            for (Method m : methods) {
                final Object[] args = Arrays.stream(m.getParameterTypes()).map(t -> mapArgument(m, t)).toArray();
                final String wrong = callExpectingClosed(map, m, args, Set.of());
                if (wrong != null) {
                    answered.add(wrong + (prefill == 0 ? " (map never written)" : ""));
                }
            }
            assertEquals(0, map.memoryStats().usedBytes(), "the calls after close() allocated off-heap memory");
        }
        assertEquals(List.of(), answered, "public methods of a closed map that did not throw IllegalStateException(\""
            + CLOSED + "\"), of " + methods.size() + " checked");
    }

    // =========================================================================================================
    // Views and iterators obtained before close()
    // =========================================================================================================

    /** View methods exempt by name (see the class comment). */
    private static final Set<String> VIEW_EXEMPT = Set.of("toString", "stream", "parallelStream", "spliterator");

    private static Object viewArgument(Method m, Class<?> type, Object element) {
        if (type == Object.class) {
            return m.getName().equals("equals") ? Set.of(element) : element;
        } else if (type == Collection.class) {
            return List.of(element);
        } else if (type == Object[].class) {
            return new Object[0];
        } else if (type == IntFunction.class) {
            return (IntFunction<Object[]>) Object[]::new;
        } else if (type == Predicate.class) {
            return (Predicate<Object>) x -> true;
        } else if (type == Consumer.class) {
            return (Consumer<Object>) x -> { };
        }
        throw new AssertionError("no plausible argument of " + type.getName() + " for " + m
            + ": add one to ClosedMapTest.viewArgument");
    }

    /** Calls every public method of {@code api} on a view or an iterator obtained before close. */
    private static void callAll(String name, Object target, Class<?> api, Object element, List<String> answered) {
        for (Method m : api.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || VIEW_EXEMPT.contains(m.getName())
                || m.getDeclaringClass() == Object.class || identityFromObject(target, m)) {
                continue;
            }
            final Object[] args = Arrays.stream(m.getParameterTypes()).map(t -> viewArgument(m, t, element)).toArray();
            final Set<Class<?>> alsoRight = m.getName().startsWith("add")
                ? Set.of(UnsupportedOperationException.class) : Set.of();
            final String wrong = callExpectingClosed(target, m, args, alsoRight);
            if (wrong != null) {
                answered.add(name + "." + wrong);
            }
        }
    }

    /** Whether {@code target} implements {@code m} with {@code Object}'s identity equals/hashCode (not map state). */
    private static boolean identityFromObject(Object target, Method m) {
        try {
            return target.getClass().getMethod(m.getName(), m.getParameterTypes()).getDeclaringClass() == Object.class;
        } catch (NoSuchMethodException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void viewsAndIteratorsObtainedBeforeCloseThrowMapIsClosed() {
        final ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).shards(64).build();
        for (long k = 0; k < 10; k++) {
            map.put(k, k);
        }
        final Set<Long> keys = map.keySet();
        final Collection<Long> values = map.values();
        final Set<Map.Entry<Long, Long>> entries = map.entrySet();
        final List<Object[]> iterators = new ArrayList<>();   // {name, iterator}
        for (Map.Entry<String, Collection<?>> view : Map.<String, Collection<?>>of("keySet()", keys,
                "values()", values, "entrySet()", entries).entrySet()) {
            final Iterator<?> advanced = view.getValue().iterator();
            advanced.next();   // its shard's copy is buffered
            iterators.add(new Object[] {view.getKey() + ".iterator() after next()", advanced});
            iterators.add(new Object[] {view.getKey() + ".iterator() untouched", view.getValue().iterator()});
        }
        final Spliterator<?>[] spliterators = {keys.spliterator(), values.spliterator(), entries.spliterator()};
        map.close();

        final List<String> answered = new ArrayList<>();
        callAll("keySet()", keys, Set.class, 1L, answered);
        callAll("values()", values, Collection.class, 1L, answered);
        callAll("entrySet()", entries, Set.class, Map.entry(1L, 1L), answered);
        for (Object[] it : iterators) {
            final String name = (String) it[0];
            final Iterator<?> iterator = (Iterator<?>) it[1];
            for (String method : name.endsWith("untouched") ? List.of("hasNext", "next", "forEachRemaining")
                    : List.of("hasNext", "next", "remove", "forEachRemaining")) {
                final Method m = Arrays.stream(Iterator.class.getMethods()).filter(x -> x.getName().equals(method))
                    .findFirst().orElseThrow();
                final Object[] args = Arrays.stream(m.getParameterTypes()).map(t -> viewArgument(m, t, 1L)).toArray();
                final String wrong = callExpectingClosed(iterator, m, args, Set.of());
                if (wrong != null) {
                    answered.add(name + "." + wrong);
                }
            }
        }
        final String[] viewNames = {"keySet()", "values()", "entrySet()"};
        for (int i = 0; i < spliterators.length; i++) {
            try {
                spliterators[i].tryAdvance(x -> { });
                answered.add(viewNames[i] + ".spliterator() (taken before close): tryAdvance returned");
            } catch (IllegalStateException e) {
                if (!CLOSED.equals(e.getMessage())) {
                    answered.add(viewNames[i] + ".spliterator().tryAdvance threw " + e);
                }
            }
            try {
                final Collection<?> view = i == 0 ? keys : i == 1 ? values : entries;
                final Object[] all = view.stream().toArray();
                answered.add(viewNames[i] + ".stream().toArray() returned " + all.length + " elements");
            } catch (IllegalStateException e) {
                if (!CLOSED.equals(e.getMessage())) {
                    answered.add(viewNames[i] + ".stream().toArray() threw " + e);
                }
            }
        }
        assertEquals(List.of(), answered, "methods of views and iterators obtained before close() that did not throw"
            + " IllegalStateException(\"" + CLOSED + "\")");
    }
}
