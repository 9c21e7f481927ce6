package io.starshard.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A member is closed in the middle of writes from the other two: a new leader is elected if needed, the writers
 * carry on, no acknowledged write is lost and none is applied twice (the models and the shared counter match every
 * member exactly), and the closed member rejoins and converges.
 */
class FailoverTest {
    private static final int ROUNDS = Integer.getInteger("starshard.failover.rounds",
        Boolean.getBoolean("starshard.stress") ? 10 : 1);

    @TempDir
    Path dir;

    @Test
    void leaderClosedMidWrites() throws Exception {
        rounds(true);
    }

    @Test
    void followerClosedMidWrites() throws Exception {
        rounds(false);
    }

    private void rounds(boolean killLeader) throws Exception {
        try (TestCluster cluster = new TestCluster(dir, 3).start()) {
            final List<Writer> writers = new ArrayList<>();
            for (int round = 0; round < ROUNDS; round++) {
                final int leader = cluster.awaitLeader(Duration.ofSeconds(30));
                final int victim = killLeader ? leader : (leader + 1) % 3;
                final AtomicBoolean stop = new AtomicBoolean();
                final AtomicLong afterKill = new AtomicLong(-1);
                final List<CompletableFuture<Void>> running = new ArrayList<>();
                final AtomicLong firstAckAfterKill = new AtomicLong();
                for (int i = 0; i < 4; i++) {
                    final int member = (victim + 1 + i % 2) % 3;
                    final Writer writer = new Writer(round * 10 + i, round * 100L + i, 100);
                    writers.add(writer);
                    final ReplicatedShardedHashMap<Long, Long> map = cluster.member(member);
                    running.add(CompletableFuture.runAsync(() -> {
                        while (!stop.get()) {
                            writer.step(map);
                            if (afterKill.get() >= 0) {
                                firstAckAfterKill.compareAndSet(0, System.nanoTime());
                                afterKill.incrementAndGet();
                            }
                        }
                    }, r -> new Thread(r, "writer-" + writer.owner).start()));
                }
                TimeUnit.MILLISECONDS.sleep(300);
                final long kill = System.nanoTime();
                cluster.kill(victim);
                afterKill.set(0);
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (afterKill.get() < 400 && System.nanoTime() < deadline
                    && running.stream().noneMatch(CompletableFuture::isDone)) {
                    TimeUnit.MILLISECONDS.sleep(10);
                }
                stop.set(true);
                CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).join();
                assertTrue(afterKill.get() >= 400, "the writers carried on after the kill: " + afterKill.get());
                System.out.printf("round %d: %s %d closed, first acknowledged write %d ms later%n", round,
                    killLeader ? "leader" : "follower", victim,
                    TimeUnit.NANOSECONDS.toMillis(firstAckAfterKill.get() - kill));
                cluster.restart(victim);
                ReplicationModelTest.assertEqualsModel(cluster, writers);
            }
        }
    }
}
