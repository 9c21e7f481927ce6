package io.starshard;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code clear()} gives the map's memory back, while readers that race it read only whole values or nothing. */
class ClearMemoryTest {

    @Test
    void clearReturnsTheMapToItsEmptyFootprint() throws InterruptedException {
        try (ShardedHashMap<Long, byte[]> map = ShardedHashMap.withShards(Long.class, byte[].class, 8)) {
            for (long k = 0; map.initializedShards() < 8; k++) {
                map.put(k, new byte[1]);   // until every shard is created
            }
            map.clear();
            final long empty = settledUsedBytes(map);
            for (long k = 0; k < 50_000; k++) {
                map.put(k, value(k));
            }
            assertTrue(map.memoryStats().usedBytes() > 20 * empty, map.memoryStats().toString());
            map.clear();
            assertEquals(0, map.size());
            assertEquals(empty, settledUsedBytes(map), "cleared: the footprint of an empty map with its shards");
            MapInvariants.checkLive(map);
        }
    }

    @Test
    void readersRacingClearSeeWholeValuesOrNothing() throws InterruptedException {
        try (ShardedHashMap<Long, byte[]> map = ShardedHashMap.withShards(Long.class, byte[].class, 4)) {
            final AtomicBoolean stop = new AtomicBoolean();
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final AtomicLong hits = new AtomicLong();
            final Thread[] readers = new Thread[2];
            for (int t = 0; t < readers.length; t++) {
                readers[t] = new Thread(() -> {
                    try {
                        long k = 0;
                        while (!stop.get()) {
                            k = (k + 7) % 20_000;
                            final byte[] v = map.get(k);
                            if (v != null) {
                                if (!Arrays.equals(value(k), v)) {
                                    throw new AssertionError("key " + k + " read a value of " + v.length + " bytes");
                                }
                                hits.incrementAndGet();
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }, "clear-reader-" + t);
                readers[t].start();
            }
            for (int round = 0; round < 30; round++) {
                for (long k = 0; k < 20_000; k++) {
                    map.put(k, value(k));
                }
                map.clear();
            }
            stop.set(true);
            for (Thread r : readers) {
                r.join();
            }
            assertNull(failure.get(), () -> "a reader failed: " + failure.get());
            assertTrue(hits.get() > 0, "the readers saw loaded values");
            assertEquals(0, map.size());
            MapInvariants.checkLive(map);
        }
    }

    /** A value whose length and bytes depend on its key, so a torn or misplaced read is visible. */
    private static byte[] value(long k) {
        final byte[] v = new byte[16 + (int) (k % 700)];
        Arrays.fill(v, (byte) k);
        v[0] = (byte) (k >>> 8);
        return v;
    }

    /** {@code usedBytes} once memory retired by the clear has been freed (a moment after, on another thread). */
    private static long settledUsedBytes(ShardedHashMap<?, ?> map) throws InterruptedException {
        long last = map.memoryStats().usedBytes();
        for (int i = 0; i < 100; i++) {
            Thread.sleep(20);
            final long now = map.memoryStats().usedBytes();
            if (now == last) {
                return now;
            }
            last = now;
        }
        return last;
    }
}
