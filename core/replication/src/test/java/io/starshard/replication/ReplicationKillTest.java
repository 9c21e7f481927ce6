package io.starshard.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three members in three JVMs, with writers in each; every round SIGKILLs one member's JVM (the leader on even
 * rounds, a follower on odd ones) in the middle of writes, checks that the others carry on, restarts it, and checks
 * every member against the acknowledged writes: nothing acknowledged lost, nothing applied twice (a killed writer's
 * one unacknowledged operation may or may not have been applied). Runs under -Pstress only.
 */
@EnabledIfSystemProperty(named = "starshard.stress", matches = "true")
class ReplicationKillTest {
    private static final int ROUNDS = Integer.getInteger("starshard.kill.rounds", 20);
    private static final int WRITERS = 2;

    @TempDir
    Path dir;

    /** A member's JVM and what it has said. */
    private static final class Child {
        final Process process;
        final PrintWriter in;
        final BlockingQueue<String> replies = new LinkedBlockingQueue<>();

        Child(Process process) {
            this.process = process;
            this.in = new PrintWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8), true);
        }

        String await(String prefix) throws InterruptedException {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (System.nanoTime() < deadline) {
                final String reply = replies.poll(100, TimeUnit.MILLISECONDS);
                if (reply != null && reply.startsWith(prefix)) {
                    return reply;
                }
                if (reply == null && !process.isAlive()) {
                    throw new AssertionError("the member exited with " + process.exitValue() + " before " + prefix);
                }
            }
            throw new AssertionError("no " + prefix + " within 90 s");
        }
    }

    private final Map<Integer, AtomicLong> acked = new ConcurrentHashMap<>();
    private final Map<Integer, Boolean> killed = new ConcurrentHashMap<>();

    @Test
    void killedMembersLoseNoAcknowledgedWrite() throws Exception {
        final int portBase = new TestCluster(dir, 3).portBase;
        final Child[] children = new Child[3];
        final int[] incarnation = new int[3];
        for (int m = 0; m < 3; m++) {
            children[m] = start(m, portBase, incarnation[m]);
        }
        for (Child child : children) {
            child.await("READY");
        }
        try {
            for (int round = 0; round < ROUNDS; round++) {
                final long started = totalAcked();
                for (Child child : children) {
                    child.in.println("write");
                }
                final long writing = System.nanoTime();
                while (totalAcked() < started + 2_000 && System.nanoTime() - writing < TimeUnit.SECONDS.toNanos(60)) {
                    TimeUnit.MILLISECONDS.sleep(10);
                }
                assertTrue(totalAcked() >= started + 2_000, "the writers write");
                int leader = -1;
                for (int m = 0; m < 3 && leader < 0; m++) {
                    children[m].in.println("role");
                    if (children[m].await("ROLE").equals("ROLE L")) {
                        leader = m;
                    }
                }
                assertTrue(leader >= 0, "a leader");
                final int victim = round % 2 == 0 ? leader : (leader + 1) % 3;
                final long before = totalAcked();
                final long kill = System.nanoTime();
                children[victim].process.destroyForcibly().waitFor();
                for (int w = 0; w < WRITERS; w++) {
                    killed.put(owner(victim, incarnation[victim], w), true);
                }
                final long afterKill = totalAcked();
                long resumedAt = 0;
                while (System.nanoTime() - kill < TimeUnit.SECONDS.toNanos(60)) {
                    if (totalAcked() > afterKill + 200) {
                        resumedAt = System.nanoTime();
                        break;
                    }
                    TimeUnit.MILLISECONDS.sleep(5);
                }
                assertTrue(resumedAt > 0, "the surviving members' writers carried on");
                System.out.printf("round %d: %s %d killed after %d writes; 200 more acknowledged %d ms later%n",
                    round, victim == leader ? "leader" : "follower", victim, before,
                    TimeUnit.NANOSECONDS.toMillis(resumedAt - kill));
                incarnation[victim]++;
                children[victim] = start(victim, portBase, incarnation[victim]);
                children[victim].await("READY");
                for (int m = 0; m < 3; m++) {
                    if (m != victim) {
                        children[m].in.println("stop");
                        children[m].await("STOPPED");
                    }
                }
                check(children, round, incarnation);
            }
        } finally {
            for (Child child : children) {
                child.process.destroyForcibly().waitFor();
            }
        }
    }

    private long totalAcked() {
        return acked.values().stream().mapToLong(AtomicLong::get).sum();
    }

    private static int owner(int member, int incarnation, int writer) {
        return member * 1000 + incarnation * 10 + writer;
    }

    /** Every member's dump equals the others' and the model of acknowledged writes. */
    private void check(Child[] children, int round, int[] incarnation) throws Exception {
        final List<Map<Long, Long>> dumps = new ArrayList<>();
        for (int m = 0; m < 3; m++) {
            final Path file = dir.resolve("dump-" + round + "-" + m);
            children[m].in.println("dump " + file);
            children[m].await("DUMPED");
            final Map<Long, Long> dump = new HashMap<>();
            for (String line : Files.readAllLines(file)) {
                final String[] kv = line.split(" ");
                dump.put(Long.parseLong(kv[0]), Long.parseLong(kv[1]));
            }
            dumps.add(dump);
        }
        assertEquals(dumps.get(0), dumps.get(1), "members 0 and 1 differ after round " + round);
        assertEquals(dumps.get(0), dumps.get(2), "members 0 and 2 differ after round " + round);
        final Map<Long, Long> actual = new HashMap<>(dumps.get(0));
        for (Map.Entry<Integer, AtomicLong> writer : acked.entrySet()) {
            final int owner = writer.getKey();
            final long last = writer.getValue().get(); // operations 0..last acknowledged
            final Map<Long, Long> expected = new HashMap<>();
            long adds = 0;
            for (long seq = 0; seq <= last; seq++) {
                if (MemberProcess.isAdd(seq)) {
                    adds++;
                } else {
                    expected.put(MemberProcess.key(owner, seq), seq);
                }
            }
            if (adds > 0) {
                expected.put(MemberProcess.counter(owner), adds);
            }
            final long unknown = last + 1; // a killed writer's operation in flight may or may not have applied
            for (Map.Entry<Long, Long> e : expected.entrySet()) {
                final Long value = actual.remove(e.getKey());
                assertNotNull(value, "writer " + owner + " lost acknowledged key " + e.getKey());
                final boolean inFlight = Boolean.TRUE.equals(killed.get(owner)) && (MemberProcess.isAdd(unknown)
                    ? e.getKey() == MemberProcess.counter(owner) && value == e.getValue() + 1
                    : e.getKey() == MemberProcess.key(owner, unknown) && value == unknown);
                assertTrue(value.equals(e.getValue()) || inFlight, "writer " + owner + " key " + e.getKey()
                    + ": expected " + e.getValue() + ", found " + value);
            }
            if (Boolean.TRUE.equals(killed.get(owner))) {
                actual.remove(MemberProcess.isAdd(unknown) ? MemberProcess.counter(owner)
                    : MemberProcess.key(owner, unknown));
            }
        }
        assertTrue(actual.isEmpty(), "entries no acknowledged write explains: " + actual);
    }

    private Child start(int member, int portBase, int incarnation) throws Exception {
        final List<String> command = new ArrayList<>();
        command.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        command.add("-Xmx512m");
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("--enable-") || arg.startsWith("--sun-misc")
                || arg.startsWith("-Dchronicle") || arg.startsWith("-Dkryo")) {
                command.add(arg);
            }
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(MemberProcess.class.getName());
        command.add(Integer.toString(member));
        command.add(dir.toString());
        command.add(Integer.toString(portBase));
        command.add(Integer.toString(owner(member, incarnation, 0)));
        command.add(Integer.toString(WRITERS));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final Child child = new Child(process);
        final Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("A ")) {
                        final String[] words = line.split(" ");
                        acked.computeIfAbsent(Integer.parseInt(words[1]), k -> new AtomicLong(-1))
                            .accumulateAndGet(Long.parseLong(words[2]), Math::max);
                    } else {
                        child.replies.add(line);
                    }
                }
            } catch (java.io.IOException ignored) {
                // the child was killed
            }
        }, "member-" + member + "-output");
        reader.setDaemon(true);
        reader.start();
        return child;
    }
}
