package io.starshard;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The invariant validator the matrix tests run after every test (through {@code ValidateMaps}) and the Guava suites
 * run in their tear-down: the counts a map reports agree with each other and with a full iteration, the map's own
 * structural check passes, {@code clear()} leaves no live entry bytes and {@code close()} returns every byte.
 *
 * <p>Lives in {@code io.starshard} because {@link ShardedHashMap#checkInvariants()} is package-private: it runs
 * every segment's own invariant check (control bytes agree with slots, counts, arena accounting) and checks that
 * every entry sits in the shard its hash routes to, throwing {@link IllegalStateException} on a violation.
 *
 * <p>Call only while no write is in flight: the counts are compared with each other, not with a snapshot.
 */
public final class MapInvariants {
    private MapInvariants() {
    }

    /**
     * Checks an open map without changing it.
     *
     * @param map an open map no other thread writes to
     */
    public static void checkLive(ShardedHashMap<?, ?> map) {
        map.checkInvariants();
        final long count = map.mappingCount();
        assertEquals((int) Math.min(count, Integer.MAX_VALUE), map.size(), "size() vs mappingCount()");
        assertEquals(count == 0, map.isEmpty(), "isEmpty() vs mappingCount()");
        final Set<Object> keys = new HashSet<>();
        long iterated = 0;
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!keys.add(comparable(e.getKey()))) {
                fail("iteration saw key " + e.getKey() + " twice");
            }
            iterated++;
        }
        assertEquals(count, iterated, "mappingCount() vs entries seen by a full iteration");
        assertEquals(count, map.memoryStats().entries(), "mappingCount() vs memoryStats().entries()");
        assertEquals(count, Arrays.stream(map.perShardLoad()).sum(), "mappingCount() vs sum of perShardLoad()");
        assertTrue(map.initializedShards() <= map.shardCount(), "more initialized shards than shards");
    }

    /**
     * Checks an open map, clears it and checks it again, closes it and checks that every byte came back. A map that
     * is already closed is only checked for the last. The map is closed on return, also when a check fails.
     *
     * @param map a map no other thread uses
     */
    public static void checkClearAndClose(ShardedHashMap<?, ?> map) {
        try {
            if (!map.isClosed()) {
                checkLive(map);
                map.clear();
                checkLive(map);
                final MemoryStats cleared = map.memoryStats();
                assertEquals(0, cleared.entries(), () -> "entries after clear(): " + cleared);
                assertEquals(0, cleared.liveEntryBytes(), () -> "live entry bytes after clear(): " + cleared);
            }
        } finally {
            map.close();
        }
        final MemoryStats closed = map.memoryStats();
        assertEquals(0, closed.usedBytes(), () -> "off-heap bytes still accounted after close(): " + closed);
    }

    /** Arrays as keys of a {@code HashSet}: by content (a decoded key is always a fresh copy). */
    private static Object comparable(Object key) {
        return key instanceof byte[] b ? ByteBuffer.wrap(b) : key;
    }
}
