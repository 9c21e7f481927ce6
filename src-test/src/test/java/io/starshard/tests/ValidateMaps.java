package io.starshard.tests;

import io.starshard.MapInvariants;
import io.starshard.ShardedHashMap;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

/**
 * Validates every map a test made through {@link MapConfig#newMap()} once the test is done, then closes it: the
 * {@code CacheValidationListener} of this code base. Runs after the test's {@code @AfterEach} methods, so a test
 * leaves its maps open for it; a map the test closed itself is checked for freed memory only. See
 * {@link MapInvariants#checkClearAndClose}.
 *
 * <p>The maps of the running test are kept in one static list: tests of this module run one at a time (JUnit's
 * default), and a test's maps may be made on other threads than the one that runs this callback.
 */
public final class ValidateMaps implements BeforeEachCallback, AfterEachCallback {
    /** Maps made since the current test started; null while no validated test runs. Guarded by the class. */
    private static List<ShardedHashMap<?, ?>> created;

    /**
     * Registers a new map for validation after the current test (if a validated test is running).
     *
     * @param map the new map
     * @param <M> its type
     * @return {@code map}
     */
    static <M extends ShardedHashMap<?, ?>> M track(M map) {
        synchronized (ValidateMaps.class) {
            if (created != null) {
                created.add(map);
            }
        }
        return map;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        synchronized (ValidateMaps.class) {
            created = new ArrayList<>();
        }
    }

    /** Validates and closes every map of the test; every map is closed even when one fails its check. */
    @Override
    public void afterEach(ExtensionContext context) {
        final List<ShardedHashMap<?, ?>> maps;
        synchronized (ValidateMaps.class) {
            maps = created;
            created = null;
        }
        AssertionError failure = null;
        for (ShardedHashMap<?, ?> map : maps) {
            try {
                MapInvariants.checkClearAndClose(map);
            } catch (RuntimeException | AssertionError e) {
                final AssertionError described = new AssertionError("invariant check after "
                    + context.getDisplayName() + " failed: " + e, e);
                if (failure == null) {
                    failure = described;
                } else {
                    failure.addSuppressed(described);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
