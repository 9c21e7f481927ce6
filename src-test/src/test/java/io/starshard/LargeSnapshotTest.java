package io.starshard;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A snapshot of a map far larger than the Java heap is taken, read and closed without {@link OutOfMemoryError}:
 * copies are off-heap and iteration decodes one entry at a time. Runs in a child JVM with a small heap: 4 GiB of
 * entries under {@code -Xmx256m} in the stress profile, 256 MiB under {@code -Xmx48m} otherwise.
 */
class LargeSnapshotTest {
    private static final int VALUE_BYTES = 1024;

    @Test
    void aSnapshotFarLargerThanTheHeapIsTakenReadAndClosed() throws Exception {
        final long bytes = StressSupport.STRESS ? 4L << 30 : 256L << 20;
        final String heap = StressSupport.STRESS ? "-Xmx256m" : "-Xmx48m";
        final List<String> command = new ArrayList<>();
        command.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        command.add(heap);
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("--enable-")) {
                command.add(arg);
            }
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(LargeSnapshotTest.class.getName());
        command.add(Long.toString(bytes / VALUE_BYTES));
        final Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String output;
        try {
            assertTrue(child.waitFor(15, TimeUnit.MINUTES), "child did not finish");
        } finally {
            output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            child.destroyForcibly();
        }
        System.out.println(output);
        assertEquals(0, child.exitValue(), "child failed:\n" + output);
        assertTrue(output.contains("snapshot ok"), output);
    }

    /** The child: fills a map, snapshots it in every mode, writes during the COW one, reads every entry. */
    public static void main(String[] args) {
        final long entries = Long.parseLong(args[0]);
        final long heap = Runtime.getRuntime().maxMemory();
        for (SnapshotMode mode : SnapshotMode.values()) {
            try (ShardedHashMap<Long, byte[]> map = ShardedHashMap.<Long, byte[]>builder(Long.class, byte[].class)
                .snapshotMode(mode).expectedEntries(entries).build()) {
                final byte[] value = new byte[VALUE_BYTES];
                for (long k = 0; k < entries; k++) {
                    value[0] = (byte) k;
                    map.set(k, value);
                }
                final long started = System.nanoTime();
                try (MapSnapshot<Long, byte[]> snapshot = map.snapshot()) {
                    for (long k = 0; k < entries; k += 2) {
                        map.remove(k);   // for COW: every shard is copied by a write
                    }
                    long count = 0;
                    long check = 0;
                    for (Map.Entry<Long, byte[]> e : snapshot.entrySet()) {
                        count++;
                        check += e.getValue()[0] == (byte) e.getKey().longValue() ? 1 : 0;
                    }
                    if (count != entries || check != entries || snapshot.get(0L) == null) {
                        throw new AssertionError(mode + ": " + count + " entries, " + check + " intact, of "
                            + entries);
                    }
                    System.out.printf("%s: %d entries (%d MiB off-heap, copies %d MiB) under a %d MiB heap,"
                            + " snapshot + scan %.1f s%n", mode, entries, map.memoryStats().usedBytes() >> 20,
                        map.snapshotStats().imageBytes() >> 20, heap >> 20, (System.nanoTime() - started) / 1e9);
                }
            }
        }
        System.out.println("snapshot ok");
    }
}
