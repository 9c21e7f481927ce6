package io.starshard.replication;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A randomised writer over keys of its own ({@code owner * 1_000_000 + 0..keys}), checking every answer against its
 * own model, and adding 1 to a shared counter now and then. Only acknowledged writes enter the model.
 */
final class Writer {
    static final long COUNTER = -1L;

    final int owner;
    final Map<Long, Long> model = new HashMap<>();
    long counterAdds;
    long operations;
    private final SplittableRandom random;
    private final int keys;

    Writer(int owner, long seed, int keys) {
        this.owner = owner;
        this.random = new SplittableRandom(seed);
        this.keys = keys;
    }

    /** One random write through {@code map}; throws if the answer differs from the model. */
    void step(ReplicatedShardedHashMap<Long, Long> map) {
        final long key = owner * 1_000_000L + random.nextInt(keys);
        final long value = random.nextLong(1_000_000);
        final Long before = model.get(key);
        switch (random.nextInt(9)) {
            case 0, 1 -> {
                assertEquals(before, map.put(key, value), "put " + key);
                model.put(key, value);
            }
            case 2 -> {
                assertEquals(before, map.remove(key), "remove " + key);
                model.remove(key);
            }
            case 3 -> {
                assertEquals(before, map.putIfAbsent(key, value), "putIfAbsent " + key);
                model.putIfAbsent(key, value);
            }
            case 4 -> {
                final long expected = before != null && random.nextBoolean() ? before : value + 1;
                final boolean replaced = before != null && before == expected;
                assertEquals(replaced, map.replace(key, expected, value), "replace " + key);
                if (replaced) {
                    model.put(key, value);
                }
            }
            case 5 -> {
                final long result = before == null ? value : before + value;
                assertEquals(result, map.apply("add", key, value), "apply " + key);
                model.put(key, result);
            }
            case 6 -> {
                final Map<Long, Long> batch = new HashMap<>();
                for (int i = 0; i < 1 + random.nextInt(20); i++) {
                    batch.put(owner * 1_000_000L + random.nextInt(keys), random.nextLong(1_000_000));
                }
                map.putAll(batch);
                model.putAll(batch);
            }
            case 7 -> {
                assertEquals(before, map.replace(key, value), "replace " + key);
                if (before != null) {
                    model.put(key, value);
                }
            }
            default -> {
                map.apply("add", COUNTER, 1L);
                counterAdds++;
            }
        }
        operations++;
    }
}
