package io.starshard.replication;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.stream.Stream;

/** Three members of a replicated long-to-long map in this JVM, each in its own directory under one root. */
final class TestCluster implements AutoCloseable {
    private static final java.util.concurrent.atomic.AtomicInteger NEXT_PORT_BASE =
        new java.util.concurrent.atomic.AtomicInteger(21000 + (int) (ProcessHandle.current().pid() % 200) * 100);

    final Path root;
    final int portBase;
    final int size;
    final List<ReplicatedShardedHashMap<Long, Long>> members = new ArrayList<>();
    final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();

    TestCluster(Path root, int size) {
        this.root = root;
        this.size = size;
        this.portBase = NEXT_PORT_BASE.getAndAdd(100);
        for (int m = 0; m < size; m++) {
            members.add(null);
        }
    }

    ReplicatedMapBuilder<Long, Long> builder(int member) {
        final List<String> hosts = new ArrayList<>();
        for (int m = 0; m < size; m++) {
            hosts.add("localhost");
        }
        return ReplicatedShardedHashMap.<Long, Long>builder(Long.class, Long.class)
            .memberId(member)
            .members(hosts)
            .portBase(portBase)
            .directory(root.resolve("member-" + member))
            .heartbeatTimeout(Duration.ofMillis(1000))
            .shards(8)
            .function("add", (current, argument) -> current == null ? argument : current + argument)
            .errorHandler(errors::add);
    }

    /** Starts every member, in parallel: build() returns once its member has caught up with an elected leader. */
    TestCluster start() {
        return start(this::builder);
    }

    TestCluster start(IntFunction<ReplicatedMapBuilder<Long, Long>> builders) {
        final List<CompletableFuture<ReplicatedShardedHashMap<Long, Long>>> starting = new ArrayList<>();
        for (int m = 0; m < size; m++) {
            final int member = m;
            starting.add(CompletableFuture.supplyAsync(() -> builders.apply(member).build()));
        }
        for (int m = 0; m < size; m++) {
            members.set(m, starting.get(m).join());
        }
        return this;
    }

    /** Restarts one member on its directory. */
    ReplicatedShardedHashMap<Long, Long> restart(int member) {
        final ReplicatedShardedHashMap<Long, Long> map = builder(member).build();
        members.set(member, map);
        return map;
    }

    ReplicatedShardedHashMap<Long, Long> member(int m) {
        return members.get(m);
    }

    /** The current leader's index, waiting for one to be elected. */
    int awaitLeader(Duration timeout) throws InterruptedException {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            for (int m = 0; m < size; m++) {
                final ReplicatedShardedHashMap<Long, Long> map = members.get(m);
                if (map != null && map.isLeader()) {
                    return m;
                }
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        throw new AssertionError("no leader within " + timeout);
    }

    void kill(int member) {
        members.get(member).close();
        members.set(member, null);
    }

    @Override
    public void close() throws IOException {
        for (int m = 0; m < size; m++) {
            if (members.get(m) != null) {
                members.get(m).close();
                members.set(m, null);
            }
        }
        deleteRecursively(root);
    }

    static void deleteRecursively(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
