package io.starshard.jmh.demo;

import io.starshard.replication.ReplicatedShardedHashMap;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * The replicated map's main job in one command: three members of an Aeron Cluster in this JVM (loopback, a temporary
 * directory), writes from a client on one member, reads on every member, a leader killed in the middle of writes,
 * its replacement, the old leader rejoining, and a snapshot; printing progress and what it measured.
 *
 * <p>Run: {@code ./mvnw -B -q -Preplication-demo -DskipTests package}; arguments: single writes, batched entries.
 */
public final class ReplicationDemo {
    private ReplicationDemo() {
    }

    /**
     * Runs the demo.
     *
     * @param args optional: single writes (default 20,000), batched entries (default 500,000)
     * @throws Exception if anything fails
     */
    public static void main(String[] args) throws Exception {
        final int singles = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        final int batched = args.length > 1 ? Integer.parseInt(args[1]) : 500_000;
        final Path root = Files.createTempDirectory("starshard-replication-demo");
        final List<ReplicatedShardedHashMap<Long, Long>> members = new ArrayList<>(List.of());
        try {
            System.out.println("Starting three members (Aeron media driver, archive, consensus module, map service)"
                + " in " + root);
            final long startNanos = System.nanoTime();
            final List<CompletableFuture<ReplicatedShardedHashMap<Long, Long>>> starting = new ArrayList<>();
            for (int m = 0; m < 3; m++) {
                final int member = m;
                starting.add(CompletableFuture.supplyAsync(() -> member(member, root)));
            }
            for (CompletableFuture<ReplicatedShardedHashMap<Long, Long>> f : starting) {
                members.add(f.join());
            }
            final int leader = awaitLeader(members);
            System.out.printf("  started in %d ms; member %d is the leader%n", millisSince(startNanos), leader);

            final ReplicatedShardedHashMap<Long, Long> client = members.get((leader + 1) % 3);
            System.out.printf("%nClient on member %d (a follower): %,d single puts, each acknowledged by the cluster"
                + "%n", client.memberId(), singles);
            long t = System.nanoTime();
            for (int i = 0; i < singles; i++) {
                client.put((long) i, (long) i * 7);
                progress(i + 1, singles);
            }
            report("single put, one thread", singles, t);

            System.out.printf("%nThe same with 8 threads:%n");
            t = System.nanoTime();
            final List<CompletableFuture<Void>> threads = new ArrayList<>();
            for (int th = 0; th < 8; th++) {
                final int first = th;
                threads.add(CompletableFuture.runAsync(() -> {
                    for (int i = first; i < singles; i += 8) {
                        client.put((long) i, (long) i * 7);
                    }
                }, task -> new Thread(task).start()));
            }
            threads.forEach(CompletableFuture::join);
            report("single put, 8 threads", singles, t);

            System.out.printf("%nBatched: %,d entries through putAll, 64 per call from 4 threads%n", batched);
            t = System.nanoTime();
            final AtomicLong done = new AtomicLong();
            final List<CompletableFuture<Void>> batchers = new ArrayList<>();
            for (int th = 0; th < 4; th++) {
                final int first = th;
                batchers.add(CompletableFuture.runAsync(() -> {
                    final Map<Long, Long> batch = new HashMap<>();
                    for (int b = first * 64; b < batched; b += 4 * 64) {
                        batch.clear();
                        for (int i = b; i < Math.min(b + 64, batched); i++) {
                            batch.put(1_000_000L + i, (long) i);
                        }
                        client.putAll(batch);
                        progress(done.addAndGet(batch.size()), batched);
                    }
                }, task -> new Thread(task).start()));
            }
            batchers.forEach(CompletableFuture::join);
            report("putAll of 64", batched, t);

            for (ReplicatedShardedHashMap<Long, Long> m : members) {
                m.sync();
            }
            System.out.printf("%nEvery member reads locally: sizes %,d / %,d / %,d; member %d reads key 12345 -> %d%n",
                members.get(0).size(), members.get(1).size(), members.get(2).size(), leader,
                members.get(leader).get(12345L));

            System.out.printf("%nFailover: a writer on member %d adds 1 to a counter in a loop; member %d, the leader,"
                + " is killed%n", client.memberId(), leader);
            final AtomicBoolean stop = new AtomicBoolean();
            final AtomicLong acknowledged = new AtomicLong();
            final AtomicLong lastAck = new AtomicLong(System.nanoTime());
            final AtomicLong longestGap = new AtomicLong();
            final CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                while (!stop.get()) {
                    client.apply("add", -1L, 1L);
                    acknowledged.incrementAndGet();
                    final long now = System.nanoTime();
                    longestGap.accumulateAndGet(now - lastAck.getAndSet(now), Math::max);
                }
            }, task -> new Thread(task).start());
            TimeUnit.MILLISECONDS.sleep(500);
            final long before = acknowledged.get();
            final long killed = System.nanoTime();
            members.get(leader).close();
            final int newLeader = awaitLeader(members, leader);
            final long elected = System.nanoTime();
            while (acknowledged.get() < before + 100) {
                TimeUnit.MILLISECONDS.sleep(1);
            }
            System.out.printf("  member %d was elected leader %d ms after the kill; writes paused for %d ms at most"
                + " and carried on%n", newLeader, TimeUnit.NANOSECONDS.toMillis(elected - killed),
                TimeUnit.NANOSECONDS.toMillis(longestGap.get()));
            TimeUnit.MILLISECONDS.sleep(500);
            System.out.printf("  restarting member %d on its directory: it rejoins and catches up from the log%n",
                leader);
            t = System.nanoTime();
            members.set(leader, member(leader, root));
            System.out.printf("  rejoined in %d ms%n", millisSince(t));
            stop.set(true);
            writer.join();
            for (ReplicatedShardedHashMap<Long, Long> m : members) {
                m.sync();
            }
            System.out.printf("  %,d increments acknowledged; the counter on the members: %d / %d / %d%n",
                acknowledged.get(), members.get(0).get(-1L), members.get(1).get(-1L), members.get(2).get(-1L));
            final boolean equal = members.get(0).equals(members.get(1)) && members.get(0).equals(members.get(2));
            System.out.println("  all three members hold the same " + members.get(0).size() + " entries: " + equal);

            System.out.printf("%nSnapshot: every member writes its map at one log position%n");
            t = System.nanoTime();
            client.takeSnapshot();
            System.out.printf("  done in %d ms; member %d's service paused %d ms to write %,d entries%n",
                millisSince(t), client.memberId(), client.lastSnapshotDuration().toMillis(), client.size());
            if (!equal || members.get(0).get(-1L) != acknowledged.get()) {
                throw new AssertionError("the members disagree or an acknowledged write is missing");
            }
        } finally {
            for (ReplicatedShardedHashMap<Long, Long> m : members) {
                m.close();
            }
            deleteRecursively(root);
        }
        System.out.println("\nDone.");
    }

    private static ReplicatedShardedHashMap<Long, Long> member(int id, Path root) {
        return ReplicatedShardedHashMap.<Long, Long>builder(Long.class, Long.class)
            .memberId(id)
            .directory(root.resolve("member-" + id))
            .heartbeatTimeout(Duration.ofSeconds(1))
            .function("add", (current, delta) -> current == null ? delta : current + delta)
            .errorHandler(e -> { })
            .build();
    }

    private static int awaitLeader(List<ReplicatedShardedHashMap<Long, Long>> members, int... excluded)
        throws InterruptedException {
        while (true) {
            for (int m = 0; m < members.size(); m++) {
                final int id = m;
                if (Stream.of(excluded).flatMapToInt(java.util.Arrays::stream).noneMatch(x -> x == id)
                    && members.get(m).isLeader()) {
                    return m;
                }
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
    }

    private static void report(String what, long operations, long startNanos) {
        final double seconds = (System.nanoTime() - startNanos) / 1e9;
        System.out.printf("%n  %-24s %,10.0f writes/s (%,d in %.2f s)%n", what, operations / seconds, operations,
            seconds);
    }

    private static void progress(long done, long total) {
        if (done % Math.max(1, total / 20) == 0 || done == total) {
            final int bars = (int) (20 * done / total);
            System.out.print("\r  [" + "#".repeat(bars) + " ".repeat(20 - bars) + "] " + done * 100 / total + "%");
        }
    }

    private static long millisSince(long startNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    private static void deleteRecursively(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
