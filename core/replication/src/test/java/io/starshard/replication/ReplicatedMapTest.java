package io.starshard.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReplicatedMapTest {
    @TempDir
    Path dir;

    @Test
    void everyKindOfWriteReachesEveryMember() throws Exception {
        try (TestCluster cluster = new TestCluster(dir, 3).start()) {
            final ReplicatedShardedHashMap<Long, Long> a = cluster.member(0);
            final ReplicatedShardedHashMap<Long, Long> b = cluster.member(1);
            assertNull(a.put(1L, 10L));
            assertEquals(10L, a.put(1L, 11L));
            assertEquals(11L, b.get(1L) == null ? b.getLinearizable(1L) : b.getLinearizable(1L));
            assertNull(b.putIfAbsent(2L, 20L));
            assertEquals(20L, a.putIfAbsent(2L, 21L));
            assertTrue(a.replace(2L, 20L, 22L));
            assertFalse(b.replace(2L, 20L, 23L));
            assertEquals(22L, b.replace(2L, 24L));
            assertFalse(a.remove(2L, 22L));
            assertTrue(a.remove(2L, 24L));
            assertEquals(5L, a.apply("add", 3L, 5L));
            assertEquals(12L, b.apply("add", 3L, 7L));
            assertEquals(13L, a.merge(4L, 13L, Long::sum));
            assertEquals(26L, b.merge(4L, 13L, Long::sum));
            final Map<Long, Long> batch = new HashMap<>();
            for (long k = 100; k < 1100; k++) {
                batch.put(k, k * 3);
            }
            a.putAll(batch);
            assertEquals(11L, b.remove(1L));
            final Map<Long, Long> expected = new HashMap<>(batch);
            expected.put(3L, 12L);
            expected.put(4L, 26L);
            for (int m = 0; m < 3; m++) {
                final ReplicatedShardedHashMap<Long, Long> member = cluster.member(m);
                member.sync();
                assertEquals(expected, new HashMap<>(member), "member " + m);
            }
            assertThrows(UnsupportedOperationException.class, () -> b.entrySet().iterator().next().setValue(1L),
                "views cannot write past the log");
            assertThrows(UnsupportedOperationException.class, () -> b.keySet().remove(100L));
            final CommandFailedException unknown = assertThrows(CommandFailedException.class,
                () -> a.apply("no-such-function", 1L, 1L));
            assertTrue(unknown.failureType().endsWith("IllegalArgumentException"), unknown.failureType());
            assertThrows(NullPointerException.class, () -> a.put(null, 1L));
            a.rebalanceTo(5);
            for (int m = 0; m < 3; m++) {
                cluster.member(m).sync();
                assertEquals(5, cluster.member(m).shardCount(), "member " + m);
            }
            a.clear();
            for (int m = 0; m < 3; m++) {
                cluster.member(m).sync();
                assertTrue(cluster.member(m).isEmpty(), "member " + m);
            }
        }
    }
}
