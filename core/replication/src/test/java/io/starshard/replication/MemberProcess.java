package io.starshard.replication;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One member in a JVM of its own, for {@link ReplicationKillTest}: it starts, prints READY, and answers commands on
 * its standard input (write, stop, role, dump FILE, exit). Its writers print "A owner seq" after each acknowledged
 * write, flushed at once, so that a parent that SIGKILLs it knows every write that was acknowledged.
 *
 * <p>Writer {@code owner}'s operation {@code seq} is a function of (owner, seq): see {@link #key} and
 * {@link #isAdd}, so that the parent can replay what each writer did.
 */
public final class MemberProcess {
    static final int KEYS = 50;

    private MemberProcess() {
    }

    static boolean isAdd(long seq) {
        return seq % 5 == 4;
    }

    static long key(int owner, long seq) {
        return owner * 1_000_000L + seq % KEYS;
    }

    static long counter(int owner) {
        return owner * 1_000_000L + 999_999L;
    }

    /**
     * Runs the member.
     *
     * @param args member id, root directory, port base, first writer owner id, writer count
     * @throws Exception on failure (the parent sees the exit)
     */
    public static void main(String[] args) throws Exception {
        final int member = Integer.parseInt(args[0]);
        final Path root = Path.of(args[1]);
        final int portBase = Integer.parseInt(args[2]);
        final int ownerBase = Integer.parseInt(args[3]);
        final int writerCount = Integer.parseInt(args[4]);
        final ReplicatedShardedHashMap<Long, Long> map = ReplicatedShardedHashMap.<Long, Long>builder(Long.class,
                Long.class)
            .memberId(member).portBase(portBase).directory(root.resolve("member-" + member))
            .heartbeatTimeout(Duration.ofMillis(1000)).shards(8)
            .function("add", (current, argument) -> current == null ? argument : current + argument)
            .errorHandler(e -> { })
            .build();
        final PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        out.println("READY");
        final AtomicBoolean stop = new AtomicBoolean();
        final List<Thread> writers = new ArrayList<>();
        final long[] next = new long[writerCount];
        final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            final String[] words = line.split(" ");
            switch (words[0]) {
                case "write" -> {
                    stop.set(false);
                    for (int w = 0; w < writerCount; w++) {
                        final int index = w;
                        final int owner = ownerBase + w;
                        final Thread t = new Thread(() -> {
                            while (!stop.get()) {
                                final long seq = next[index];
                                if (isAdd(seq)) {
                                    map.apply("add", counter(owner), 1L);
                                } else {
                                    map.put(key(owner, seq), seq);
                                }
                                next[index] = seq + 1;
                                synchronized (out) {
                                    out.println("A " + owner + " " + seq);
                                }
                            }
                        }, "writer-" + owner);
                        t.start();
                        writers.add(t);
                    }
                }
                case "stop" -> {
                    stop.set(true);
                    for (Thread t : writers) {
                        t.join();
                    }
                    writers.clear();
                    synchronized (out) {
                        out.println("STOPPED");
                    }
                }
                case "role" -> {
                    synchronized (out) {
                        out.println("ROLE " + (map.isLeader() ? "L" : "F"));
                    }
                }
                case "dump" -> {
                    map.sync();
                    final Map<Long, Long> sorted = new TreeMap<>(map);
                    final StringBuilder text = new StringBuilder();
                    sorted.forEach((k, v) -> text.append(k).append(' ').append(v).append('\n'));
                    Files.writeString(Path.of(words[1]), text);
                    synchronized (out) {
                        out.println("DUMPED");
                    }
                }
                case "exit" -> {
                    map.close();
                    System.exit(0);
                }
                default -> {
                    synchronized (out) {
                        out.println("UNKNOWN " + line);
                    }
                }
            }
        }
        map.close();
    }
}
