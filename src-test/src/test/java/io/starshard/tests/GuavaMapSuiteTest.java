package io.starshard.tests;

import com.google.common.collect.testing.ConcurrentMapTestSuiteBuilder;
import com.google.common.collect.testing.SampleElements;
import com.google.common.collect.testing.TestMapGenerator;
import com.google.common.collect.testing.features.CollectionFeature;
import com.google.common.collect.testing.features.CollectionSize;
import com.google.common.collect.testing.features.MapFeature;
import io.starshard.MapInvariants;
import io.starshard.ShardedHashMap;
import io.starshard.tests.MapConfig.Format;
import junit.framework.TestCase;
import junit.framework.TestFailure;
import junit.framework.TestResult;
import junit.framework.TestSuite;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Guava testlib's {@code ConcurrentMap} suites (every {@code Map} and {@code ConcurrentMap} tester, and the
 * {@code keySet}/{@code values}/{@code entrySet} collection suites derived from them) on {@code String -> String},
 * {@code Long -> Long} and {@code Long -> Item(Kryo)} maps.
 *
 * <p><b>Features: only what is true.</b> {@link MapFeature#GENERAL_PURPOSE} (put and remove);
 * {@link MapFeature#ALLOWS_NULL_ENTRY_QUERIES} ({@code entrySet().contains/remove(null)} answer false, as
 * {@code ConcurrentHashMap}'s do); {@link CollectionFeature#SUPPORTS_ITERATOR_REMOVE}; {@link CollectionSize#ANY}.
 * Not: null keys, values or key/value queries (all throw {@code NullPointerException}), {@code SERIALIZABLE},
 * {@code KNOWN_ORDER}, {@code FAILS_FAST_ON_CONCURRENT_MODIFICATION} (iteration is weakly consistent).
 *
 * <p><b>No {@code String -> byte[]} suite:</b> the testers compare values, entries and maps with {@code equals},
 * which is identity for arrays, while every value the map returns is a fresh decoded copy (documented). No feature
 * set describes that, so such a suite would fail on the contract of arrays, not on the map.
 *
 * <p><b>Why dynamic tests, not the vintage engine:</b> the suites are JUnit 3 {@code TestSuite}s; walking them into
 * {@link DynamicContainer}s and running each {@code TestCase} keeps one engine (Jupiter) with its reporting and
 * configuration, adds no JUnit 4 runner that would also pick up any other JUnit 4 class on the class path, and
 * gives the suite tree its Guava names. Tear-down (Guava's {@code withTearDown}, which reaches the derived suites
 * too) validates and closes every map the generator made for the test.
 *
 * <p><b>Suppressed:</b> none today. A tester that fails because of a defect of the map is suppressed only with
 * {@code .suppressing(method)} in {@link #suite}, named in {@link #KNOWN_DEFECTS}, never by weakening the features.
 */
class GuavaMapSuiteTest {
    /** Tester methods that fail today because of a known defect of the map (none yet). */
    private static final List<Method> KNOWN_DEFECTS = List.of();

    @TestFactory
    DynamicNode stringToString() {
        return suite(new MapConfig(Format.STRING_STRING, 8, false, false),
            new SampleElements<>("one", "two", "\u00fcber", "\u6f22\u5b57", "five-" + "x".repeat(100)),
            new SampleElements<>("1", "", "three " + "v".repeat(70), "\ud83d\ude00", "5"));
    }

    @TestFactory
    DynamicNode longToLong() {
        return suite(new MapConfig(Format.LONG_LONG, 64, true, true),
            new SampleElements<>(1L, -2L, Long.MAX_VALUE, Long.MIN_VALUE, 0L),
            new SampleElements<>(10L, 0L, -30L, Long.MIN_VALUE, Long.MAX_VALUE));
    }

    @TestFactory
    DynamicNode longToKryoRecord() {
        return suite(new MapConfig(Format.LONG_ITEM, 1, false, false),
            new SampleElements<>(1L, 2L, 3L, 4L, 5L),
            new SampleElements<>(new Item(1, "a", Item.Tag.RED), new Item(2, "b", Item.Tag.GREEN),
                new Item(3, "c".repeat(90), Item.Tag.BLUE), new Item(-4, "", Item.Tag.RED),
                new Item(Long.MAX_VALUE, "e", Item.Tag.GREEN)));
    }

    private static <K, V> DynamicNode suite(MapConfig config, SampleElements<K> keys, SampleElements<V> values) {
        final Generator<K, V> generator = new Generator<>(config, keys, values);
        final TestSuite suite = ConcurrentMapTestSuiteBuilder.using(generator)
            .named("ShardedHashMap " + config)
            .withFeatures(MapFeature.GENERAL_PURPOSE, MapFeature.ALLOWS_NULL_ENTRY_QUERIES,
                CollectionFeature.SUPPORTS_ITERATOR_REMOVE, CollectionSize.ANY)
            .withTearDown(generator::validateAndCloseAll)
            .suppressing(KNOWN_DEFECTS)
            .createTestSuite();
        final DynamicNode root = toDynamic(suite);
        // Dynamic nodes run in order: this one after the whole suite, whose tear-downs closed every map.
        return DynamicContainer.dynamicContainer(suite.getName(), List.of(root,
            DynamicTest.dynamicTest("every map the suite made was validated and closed",
                () -> assertEquals(0, generator.open(), "maps left open"))));
    }

    /** The JUnit 3 tree as dynamic containers (suites) and dynamic tests (test cases). */
    private static DynamicNode toDynamic(junit.framework.Test test) {
        if (test instanceof TestSuite suite) {
            final List<DynamicNode> children = new ArrayList<>();
            for (junit.framework.Test child : Collections.list(suite.tests())) {
                children.add(toDynamic(child));
            }
            return DynamicContainer.dynamicContainer(suite.getName(), children);
        }
        final TestCase testCase = (TestCase) test;
        return DynamicTest.dynamicTest(testCase.getName(), () -> run(testCase));
    }

    /**
     * Runs one test case (set-up, test, tear-down); its first error or failure is rethrown as the cause of an
     * {@code AssertionError} that names the Guava test, so that a build's failure summary says which one failed.
     */
    private static void run(TestCase testCase) {
        final TestResult result = new TestResult();
        testCase.run(result);
        final List<TestFailure> failures = Collections.list(result.errors());
        failures.addAll(Collections.list(result.failures()));
        if (!failures.isEmpty()) {
            final Throwable thrown = failures.get(0).thrownException();
            throw new AssertionError(testCase.getName() + " (" + testCase.getClass().getSimpleName() + "): " + thrown,
                thrown);
        }
        assertEquals(1, result.runCount(), "the test case did not run");
    }

    /** Makes maps of one configuration, filled in the order given; remembers them for the tear-down. */
    private static final class Generator<K, V> implements TestMapGenerator<K, V> {
        private final MapConfig config;
        private final SampleElements<K> keys;
        private final SampleElements<V> values;
        private final List<ShardedHashMap<K, V>> created = new ArrayList<>();

        Generator(MapConfig config, SampleElements<K> keys, SampleElements<V> values) {
            this.config = config;
            this.keys = keys;
            this.values = values;
        }

        @Override
        public SampleElements<Map.Entry<K, V>> samples() {
            return SampleElements.mapEntries(keys, values);
        }

        @Override
        @SuppressWarnings("unchecked")
        public Map<K, V> create(Object... entries) {
            final ShardedHashMap<K, V> map = config.newMap();
            created.add(map);   // before filling: a refused (null) entry must not leak the map
            for (Object entry : entries) {
                final Map.Entry<K, V> e = (Map.Entry<K, V>) entry;
                map.put(e.getKey(), e.getValue());
            }
            return map;
        }

        @Override
        @SuppressWarnings("unchecked")
        public Map.Entry<K, V>[] createArray(int length) {
            return (Map.Entry<K, V>[]) new Map.Entry<?, ?>[length];
        }

        @Override
        public Iterable<Map.Entry<K, V>> order(List<Map.Entry<K, V>> insertionOrder) {
            return insertionOrder;   // no KNOWN_ORDER: Guava never asks for the iteration order
        }

        @Override
        @SuppressWarnings("unchecked")
        public K[] createKeyArray(int length) {
            return (K[]) Array.newInstance(config.format().keyType, length);
        }

        @Override
        @SuppressWarnings("unchecked")
        public V[] createValueArray(int length) {
            return (V[]) Array.newInstance(config.format().valueType, length);
        }

        /** Guava's tear-down of every test: validates and closes every map the test made, all even if one fails. */
        void validateAndCloseAll() {
            final List<ShardedHashMap<K, V>> maps = new ArrayList<>(created);
            created.clear();
            AssertionError failure = null;
            for (ShardedHashMap<K, V> map : maps) {
                try {
                    MapInvariants.checkClearAndClose(map);
                } catch (RuntimeException | AssertionError e) {
                    if (failure == null) {
                        failure = new AssertionError("invariant check in tear-down failed: " + e, e);
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        }

        int open() {
            return created.size();
        }
    }
}
