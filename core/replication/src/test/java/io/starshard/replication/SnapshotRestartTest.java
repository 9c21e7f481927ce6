package io.starshard.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every member restarts from its snapshot and the log after it; a corrupted snapshot is refused at start. */
class SnapshotRestartTest {
    @TempDir
    Path dir;

    @Test
    void allMembersRestartFromSnapshotAndLogWithTheSameContents() throws Exception {
        final List<Writer> writers = new ArrayList<>();
        try (TestCluster cluster = new TestCluster(dir, 3).start()) {
            write(cluster, writers, 0, 600);
            cluster.member(0).rebalanceTo(5);
            cluster.member(0).takeSnapshot();
            write(cluster, writers, 1, 600); // after the snapshot: replayed from the log
            assertTrue(cluster.member(0).lastSnapshotDuration().toNanos() > 0);
            ReplicationModelTest.assertEqualsModel(cluster, writers);
            for (int m = 0; m < 3; m++) {
                cluster.kill(m);
            }
            cluster.start();
            ReplicationModelTest.assertEqualsModel(cluster, writers);
            for (int m = 0; m < 3; m++) {
                assertEquals(5, cluster.member(m).shardCount(), "member " + m + " keeps the rebalanced shard count");
            }
            write(cluster, writers, 2, 300); // and the restarted cluster takes writes; dedup state came back
            ReplicationModelTest.assertEqualsModel(cluster, writers);
        }
    }

    @Test
    void aCorruptedSnapshotIsRefusedWithAClearError() throws Exception {
        final List<Writer> writers = new ArrayList<>();
        try (TestCluster cluster = new TestCluster(dir, 3).start()) {
            write(cluster, writers, 0, 400);
            cluster.member(0).takeSnapshot();
            cluster.member(1).sync();
            for (int m = 0; m < 3; m++) {
                cluster.kill(m);
            }
            final int flipped = flipAByteOfTheSavedMap(cluster.root.resolve("member-1").resolve("archive"));
            assertEquals(1, flipped, "the member's archive holds one snapshot of the map");
            final CorruptedSnapshotException e = assertThrows(CorruptedSnapshotException.class,
                () -> cluster.builder(1).build());
            System.out.println("refused: " + e.getMessage());
            assertTrue(e.getMessage().contains("the map in the snapshot is corrupted"), e.getMessage());
            assertTrue(e.getCause() instanceof io.starshard.CorruptedFileException, String.valueOf(e.getCause()));
        }
    }

    private static void write(TestCluster cluster, List<Writer> writers, int round, int operations) {
        for (int m = 0; m < 3; m++) {
            final Writer writer = new Writer(round * 3 + m, 77L * round + m, 150);
            writers.add(writer);
            for (int i = 0; i < operations / 3; i++) {
                writer.step(cluster.member(m));
            }
        }
    }

    /**
     * Finds the saved map inside the member's archive recordings (by the map file's magic) and flips one byte of
     * its first block, as a disk fault would; returns how many snapshots were found.
     */
    static int flipAByteOfTheSavedMap(Path archive) throws IOException {
        final byte[] magic = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0x4448_5253_5241_5453L)
            .array();
        int found = 0;
        try (Stream<Path> files = Files.list(archive)) {
            for (Path file : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".rec"))::iterator) {
                final byte[] bytes = Files.readAllBytes(file);
                for (int i = 0; i + 8 <= bytes.length; i++) {
                    if (java.util.Arrays.equals(bytes, i, i + 8, magic, 0, 8)) {
                        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                            final int at = i + 150;
                            channel.write(ByteBuffer.wrap(new byte[] {(byte) (bytes[at] ^ 0x5A)}), at);
                        }
                        found++;
                        break;
                    }
                }
            }
        }
        return found;
    }
}
