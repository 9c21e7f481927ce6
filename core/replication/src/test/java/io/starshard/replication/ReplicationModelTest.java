package io.starshard.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A randomised sequence of writes from every member leaves every member's map equal to the model. */
class ReplicationModelTest {
    private static final int OPERATIONS = Boolean.getBoolean("starshard.stress") ? 20_000 : 1_500;

    @TempDir
    Path dir;

    @Test
    void everyMemberEqualsTheModelOfAcknowledgedWrites() throws Exception {
        try (TestCluster cluster = new TestCluster(dir, 3).start()) {
            final List<Writer> writers = new ArrayList<>();
            final List<CompletableFuture<Void>> running = new ArrayList<>();
            for (int w = 0; w < 6; w++) {
                final Writer writer = new Writer(w, 1234L + w, 200);
                final ReplicatedShardedHashMap<Long, Long> map = cluster.member(w % 3);
                writers.add(writer);
                running.add(CompletableFuture.runAsync(() -> {
                    for (int i = 0; i < OPERATIONS; i++) {
                        writer.step(map);
                    }
                }, r -> new Thread(r, "writer-" + writer.owner).start()));
            }
            CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).join();
            assertEqualsModel(cluster, writers);
            assertTrue(cluster.errors.isEmpty(), () -> "Aeron reported errors: " + cluster.errors);
        }
    }

    /** Every live member, after a sync, holds exactly the writers' models and the counter's sum. */
    static void assertEqualsModel(TestCluster cluster, List<Writer> writers) {
        final Map<Long, Long> expected = new HashMap<>();
        long adds = 0;
        for (Writer writer : writers) {
            expected.putAll(writer.model);
            adds += writer.counterAdds;
        }
        if (adds > 0) {
            expected.put(Writer.COUNTER, adds);
        }
        for (int m = 0; m < cluster.size; m++) {
            final ReplicatedShardedHashMap<Long, Long> member = cluster.member(m);
            if (member != null) {
                member.sync();
                assertTrue(member.awaitApplied(member.sync(), Duration.ofSeconds(30)));
                final Map<Long, Long> actual = new HashMap<>(member);
                assertEquals(expected.size(), actual.size(), "member " + m + " entry count");
                assertEquals(expected, actual, "member " + m);
            }
        }
    }
}
