package io.starshard.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Local reads run while the service thread applies writes: readers on every member check a checksum inside every
 * value they read (values change length, so entries move), and never see a version older than one they saw before.
 */
class LocalReadTest {
    private static final int WRITES = Boolean.getBoolean("starshard.stress") ? 50_000 : 3_000;
    private static final int KEYS = 64;

    @TempDir
    Path dir;

    @Test
    void readersNeverSeeATornOrOlderValue() throws Exception {
        final int portBase = new TestCluster(dir, 3).portBase;
        final List<CompletableFuture<ReplicatedShardedHashMap<Long, byte[]>>> starting = new ArrayList<>();
        for (int m = 0; m < 3; m++) {
            final int member = m;
            starting.add(CompletableFuture.supplyAsync(() -> ReplicatedShardedHashMap.<Long, byte[]>builder(
                    Long.class, byte[].class)
                .memberId(member).portBase(portBase).directory(dir.resolve("member-" + member))
                .heartbeatTimeout(Duration.ofSeconds(1)).shards(4).build()));
        }
        final List<ReplicatedShardedHashMap<Long, byte[]>> members = new ArrayList<>();
        starting.forEach(f -> members.add(f.join()));
        try {
            final AtomicBoolean stop = new AtomicBoolean();
            final AtomicLong reads = new AtomicLong();
            final List<CompletableFuture<Void>> readers = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                final ReplicatedShardedHashMap<Long, byte[]> map = members.get(r);
                readers.add(CompletableFuture.runAsync(() -> {
                    final long[] lastVersion = new long[KEYS];
                    final SplittableRandom random = new SplittableRandom(map.memberId());
                    while (!stop.get()) {
                        final long key = random.nextInt(KEYS);
                        final byte[] value = map.get(key);
                        if (value != null) {
                            final long version = check(key, value);
                            assertTrue(version >= lastVersion[(int) key], "key " + key + " went back from version "
                                + lastVersion[(int) key] + " to " + version);
                            lastVersion[(int) key] = version;
                        }
                        reads.incrementAndGet();
                    }
                }, task -> new Thread(task, "reader").start()));
            }
            final SplittableRandom random = new SplittableRandom(7);
            final List<CompletableFuture<byte[]>> pending = new ArrayList<>();
            for (int i = 1; i <= WRITES; i++) {
                final long key = random.nextInt(KEYS);
                // One client per key: a client's commands enter the log in the order it sent them, so versions rise.
                pending.add(members.get((int) (key % 3)).putAsync(key, value(key, i, 16 + random.nextInt(400))));
                if (pending.size() == 64) {
                    pending.forEach(CompletableFuture::join);
                    pending.clear();
                }
            }
            pending.forEach(CompletableFuture::join);
            stop.set(true);
            CompletableFuture.allOf(readers.toArray(CompletableFuture[]::new)).join();
            assertTrue(reads.get() > WRITES, "readers ran: " + reads.get());
            members.forEach(ReplicatedShardedHashMap::sync);
            for (long key = 0; key < KEYS; key++) {
                final byte[] first = members.get(0).get(key);
                for (int m = 1; m < 3; m++) {
                    assertEquals(ByteBuffer.wrap(first), ByteBuffer.wrap(members.get(m).get(key)), "key " + key);
                }
            }
        } finally {
            members.forEach(ReplicatedShardedHashMap::close);
        }
    }

    /** A value of {@code length} bytes: key, version, filler, then a CRC-32C of everything before it. */
    static byte[] value(long key, long version, int length) {
        final ByteBuffer bytes = ByteBuffer.allocate(Math.max(length, 24));
        bytes.putLong(key).putLong(version);
        while (bytes.remaining() > 4) {
            bytes.put((byte) (version * 31 + bytes.position()));
        }
        final CRC32C crc = new CRC32C();
        crc.update(bytes.array(), 0, bytes.capacity() - 4);
        bytes.putInt((int) crc.getValue());
        return bytes.array();
    }

    /** Checks a value's checksum and key; returns its version. */
    static long check(long key, byte[] value) {
        final ByteBuffer bytes = ByteBuffer.wrap(value);
        final CRC32C crc = new CRC32C();
        crc.update(value, 0, value.length - 4);
        assertEquals((int) crc.getValue(), bytes.getInt(value.length - 4), "torn value of key " + key);
        assertEquals(key, bytes.getLong(0), "a value of another key");
        return bytes.getLong(8);
    }
}
