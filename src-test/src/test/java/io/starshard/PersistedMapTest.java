package io.starshard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A persisted map: closing and reopening gives the same contents for every kind of write and codec; a copy of the
 * directory taken while the map is open (what a killed process leaves: the journal's mapped pages are in the page
 * cache) reopens to the same contents by replaying the journal; growth, rebalances, clear and background
 * checkpoints work; a second open of the same directory is refused; a damaged journal is rejected.
 */
class PersistedMapTest {
    @TempDir
    Path dir;

    private ShardedHashMapBuilder<Long, Long> longs(Path where) {
        return ShardedHashMap.builder(Long.class, Long.class).persistedTo(where).shards(8);
    }

    /** Every write method, applied to the map and to a model. */
    private static void churn(ShardedHashMap<Long, Long> map, Map<Long, Long> model, int ops, long seed) {
        final Random random = new Random(seed);
        for (int i = 0; i < ops; i++) {
            final long k = random.nextInt(5_000);
            final long v = random.nextLong();
            switch (random.nextInt(8)) {
                case 0:
                    map.remove(k);
                    model.remove(k);
                    break;
                case 1:
                    map.putIfAbsent(k, v);
                    model.putIfAbsent(k, v);
                    break;
                case 2:
                    map.merge(k, v, Long::sum);
                    model.merge(k, v, Long::sum);
                    break;
                case 3:
                    map.computeIfPresent(k, (key, old) -> old % 3 == 0 ? null : old + 1);
                    model.computeIfPresent(k, (key, old) -> old % 3 == 0 ? null : old + 1);
                    break;
                case 4:
                    map.replace(k, v);
                    model.replace(k, v);
                    break;
                default:
                    map.put(k, v);
                    model.put(k, v);
            }
        }
    }

    @Test
    void closingAndReopeningGivesTheSameContents() throws IOException {
        final Path where = dir.resolve("map");
        final Map<Long, Long> model = new HashMap<>();
        try (ShardedHashMap<Long, Long> map = longs(where).build()) {
            churn(map, model, 50_000, 1);
            map.entrySet().removeIf(e -> e.getKey() % 7 == 0);
            model.entrySet().removeIf(e -> e.getKey() % 7 == 0);
            map.putLong(-5L, 50L, 0L);
            map.addAndGetLong(-5L, 5L);
            model.put(-5L, 55L);
            assertEquals(model, new HashMap<>(map));
        }
        for (int shards : new int[] {8, 3, 32}) {
            try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).persistedTo(where)
                .shards(shards).build()) {
                assertEquals(shards, map.shardCount());
                assertEquals(model, new HashMap<>(map));
                MapInvariants.checkLive(map);
                churn(map, model, 5_000, shards);
            }
        }
        final List<long[]> progress = new java.util.ArrayList<>();
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class)
            .persistedTo(where, (done, total, bytes) -> progress.add(new long[] {done, total})).build()) {
            assertEquals(model, new HashMap<>(map));
        }
        assertTrue(!progress.isEmpty(), "the reopening reported its progress");
        for (int i = 1; i < progress.size(); i++) {
            assertTrue(progress.get(i)[0] >= progress.get(i - 1)[0], "progress never goes back");
        }
        assertEquals(model.size(), progress.get(progress.size() - 1)[0]);
        assertEquals(model.size(), progress.get(progress.size() - 1)[1]);
        for (Path lane : journals(where)) {   // closed lanes are cut back to what was written
            assertTrue(Files.size(lane) <= 1L << 20, lane + " has " + Files.size(lane) + " bytes");
        }
    }

    /** Every file the map mapped is unmapped again: a deleted checkpoint or journal must give its disk space back. */
    @Test
    void noMappingOutlivesItsFile() throws IOException {
        final Path maps = Path.of("/proc/self/maps");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(maps), "needs /proc (Linux)");
        final Path where = dir.resolve("unmapped");
        for (int round = 0; round < 5; round++) {
            try (ShardedHashMap<Long, Long> map = longs(where).build()) {
                for (long k = 0; k < 1_000; k++) {
                    map.put(k, k + round);
                }
                copyDirectory(where, dir.resolve("copy-" + round));
                map.checkpoint();
                map.save(dir.resolve("saved-" + round + ".map"));
            }
            try (ShardedHashMap<Long, Long> copy = longs(dir.resolve("copy-" + round)).build();
                 ShardedHashMap<Long, Long> loaded = ShardedHashMap.builder(Long.class, Long.class)
                     .load(dir.resolve("saved-" + round + ".map"))) {
                assertEquals(1_000, copy.size());
                assertEquals(new HashMap<>(copy), new HashMap<>(loaded));
            }
        }
        // Chronicle unmaps a writer's chunks on its background releaser thread: give it time (a bound on a hang,
        // not a measurement); a mapping that is never released stays.
        final String root = dir.toString();
        List<String> still = List.of();
        for (long deadline = System.nanoTime() + 30_000_000_000L; System.nanoTime() < deadline; ) {
            still = Files.readAllLines(maps).stream().filter(line -> line.contains(root)).collect(Collectors.toList());
            if (still.isEmpty()) {
                break;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        assertTrue(still.isEmpty(), "files of closed maps are still mapped:\n" + String.join("\n", still));
    }

    @Test
    void aDirectoryCopiedWhileTheMapIsOpenReplaysItsJournal() throws IOException {
        final Path where = dir.resolve("map");
        final Map<Long, Long> model = new HashMap<>();
        try (ShardedHashMap<Long, Long> map = longs(where).build()) {
            churn(map, model, 20_000, 2);
            map.clear();
            model.clear();
            churn(map, model, 20_000, 3);
            map.rebalanceTo(20);
            churn(map, model, 20_000, 4);
            map.entrySet().removeIf(e -> e.getValue() % 2 == 0);
            model.entrySet().removeIf(e -> e.getValue() % 2 == 0);
            copyDirectory(where, dir.resolve("crashed"));   // what kill -9 would leave now
            assertTrue(journalBytes(dir.resolve("crashed")) > 0, "the writes are in the journal");
        }
        try (ShardedHashMap<Long, Long> reopened = longs(dir.resolve("crashed")).build()) {
            assertEquals(model, new HashMap<>(reopened));
            MapInvariants.checkLive(reopened);
        }
        // The replay wrote a checkpoint: a second reopening has no journal to replay and the same contents.
        try (ShardedHashMap<Long, Long> again = longs(dir.resolve("crashed")).build()) {
            assertEquals(model, new HashMap<>(again));
        }
    }

    @Test
    void everyCodecKindRoundTrips() throws IOException {
        final Path where = dir.resolve("strings");
        final Map<String, byte[]> model = new HashMap<>();
        try (ShardedHashMap<String, byte[]> map = ShardedHashMap.builder(String.class, byte[].class)
            .persistedTo(where).build()) {
            for (int i = 0; i < 3_000; i++) {
                final byte[] value = new byte[i % 300];
                new Random(i).nextBytes(value);
                map.put("key-" + i, value);
                model.put("key-" + i, value);
            }
            map.remove("key-17");
            model.remove("key-17");
            copyDirectory(where, dir.resolve("strings-crashed"));
        }
        for (Path p : new Path[] {where, dir.resolve("strings-crashed")}) {
            try (ShardedHashMap<String, byte[]> map = ShardedHashMap.builder(String.class, byte[].class)
                .persistedTo(p).build()) {
                assertEquals(model.size(), map.size());
                model.forEach((k, v) -> assertEquals(java.util.Arrays.toString(v), java.util.Arrays.toString(map.get(k))));
            }
        }
        final Path quotes = dir.resolve("quotes");
        try (ShardedHashMap<Integer, Quote> map = ShardedHashMap.builder(Integer.class, Quote.class)
            .persistedTo(quotes).build()) {
            for (int i = 0; i < 500; i++) {
                map.put(i, new Quote("SYM" + i, i * 0.5, i * 100L));
            }
            copyDirectory(quotes, dir.resolve("quotes-crashed"));
        }
        for (Path p : new Path[] {quotes, dir.resolve("quotes-crashed")}) {
            try (ShardedHashMap<Integer, Quote> map = ShardedHashMap.builder(Integer.class, Quote.class)
                .persistedTo(p).build()) {
                assertEquals(500, map.size());
                assertEquals(new Quote("SYM42", 21.0, 4_200L), map.get(42));
            }
        }
    }

    /** A Kryo-coded value type. */
    record Quote(String symbol, double price, long size) {
    }

    @Test
    void aSecondOpenOfTheSameDirectoryIsRefused() {
        final Path where = dir.resolve("map");
        try (ShardedHashMap<Long, Long> map = longs(where).build()) {
            map.put(1L, 1L);
            final IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> longs(where).build());
            assertTrue(refused.getMessage().contains("already open"), refused.getMessage());
            assertEquals(1L, map.get(1L));   // the first map is untouched
        }
        try (ShardedHashMap<Long, Long> map = longs(where).build()) {
            assertEquals(Map.of(1L, 1L), new HashMap<>(map));
        }
    }

    @Test
    void backgroundCheckpointsKeepTheJournalBounded() throws Exception {
        final Path where = dir.resolve("map");
        final Map<Long, Long> model = new HashMap<>();
        try (ShardedHashMap<Long, Long> map = longs(where).checkpointAfter(1L << 20).build()) {
            // Writers carry on while the background thread checkpoints after each MiB of journal or so.
            final long deadline = System.nanoTime() + 60_000_000_000L;
            int round = 0;
            while (generationOf(checkpoints(where).get(0)) < 3 && System.nanoTime() < deadline) {
                churn(map, model, 10_000, 100 + round++);
            }
            assertTrue(generationOf(checkpoints(where).get(0)) >= 3, "checkpoints were taken in the background: "
                + describe(where));
            assertEquals(1, checkpoints(where).size(), "a checkpoint deletes the one it replaces");
            for (Path journal : journals(where)) {
                final long generation = Long.parseLong(journal.getFileName().toString().split("-")[1]);
                assertTrue(generation >= generationOf(checkpoints(where).get(0)) || !Files.exists(journal),
                    "a checkpoint deletes the journals it covers: " + journal);
            }
            map.checkpoint();
            map.sync();
        }
        try (ShardedHashMap<Long, Long> map = longs(where).build()) {
            assertEquals(model, new HashMap<>(map));
        }
    }

    @Test
    void aDamagedJournalIsRejectedAndNothingIsOpen() throws IOException {
        final Path where = dir.resolve("map");
        try (ShardedHashMap<Long, Long> map = longs(where).build()) {
            for (long k = 0; k < 1_000; k++) {
                map.put(k, k);
            }
            copyDirectory(where, dir.resolve("damaged"));
        }
        final Path damaged = dir.resolve("damaged");
        final Path lane = journals(damaged).stream()
            .max(java.util.Comparator.comparingLong(PersistedMapTest::recordBytes)).orElseThrow();
        assertTrue(recordBytes(lane) > 0);
        try (FileChannel ch = FileChannel.open(lane, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            final ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, 64 + 30);   // a key byte of the first record
            b.put(0, (byte) (b.get(0) ^ 0x10)).rewind();
            ch.write(b, 64 + 30);
        }
        final UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> longs(damaged).build());
        assertInstanceOf(CorruptedFileException.class, e.getCause());
        assertTrue(e.getMessage().contains("checksum"), e.getMessage());
        // Nothing is left open: the directory's lock was released.
        final UncheckedIOException again = assertThrows(UncheckedIOException.class, () -> longs(damaged).build());
        assertInstanceOf(CorruptedFileException.class, again.getCause());
    }

    @Test
    void closingWhileWritersRunKeepsEveryWriteThatReturned() throws Exception {
        final Path where = dir.resolve("map");
        final ShardedHashMap<Long, Long> map = longs(where).build();
        final int writers = 3;
        final long[] lastReturned = new long[writers];
        final Thread[] threads = new Thread[writers];
        final java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(writers);
        for (int t = 0; t < writers; t++) {
            final int id = t;
            lastReturned[t] = -1;
            threads[t] = new Thread(() -> {
                started.countDown();
                try {
                    for (long i = 0; ; i++) {
                        map.put(id * 1_000_000_000L + i, i);
                        lastReturned[id] = i;
                    }
                } catch (IllegalStateException closed) {
                    assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
                }
            });
            threads[t].start();
        }
        started.await();
        Thread.sleep(300);
        map.close();
        for (Thread t : threads) {
            t.join(30_000);
            assertTrue(!t.isAlive(), "a writer did not stop after close");
        }
        try (ShardedHashMap<Long, Long> reopened = longs(where).build()) {
            long total = 0;
            for (int t = 0; t < writers; t++) {
                assertTrue(lastReturned[t] > 0, "writer " + t + " wrote");
                for (long i = 0; i <= lastReturned[t]; i++) {
                    assertEquals(i, reopened.getLong(t * 1_000_000_000L + i, -1L), "writer " + t + " write " + i);
                }
                total += lastReturned[t] + 1;
            }
            // A write in progress at the close may have landed too, never more than one per writer.
            assertTrue(reopened.size() >= total && reopened.size() <= total + writers,
                reopened.size() + " entries for " + total + " returned writes");
            MapInvariants.checkLive(reopened);
        }
    }

    @Test
    void aWriteTheBudgetRefusesIsNotJournaled() throws IOException {
        final Path where = dir.resolve("map");
        final Map<String, byte[]> model = new HashMap<>();
        try (ShardedHashMap<String, byte[]> map = ShardedHashMap.builder(String.class, byte[].class).shards(2)
            .memoryBudget(2L << 20).persistedTo(where).build()) {
            int refused = 0;
            for (int i = 0; i < 5_000 && refused < 20; i++) {
                final byte[] value = new byte[1_000];
                value[0] = (byte) i;
                try {
                    map.put("k" + i, value);
                    model.put("k" + i, value);
                } catch (io.starshard.offheap.OffHeapMemoryExhaustedException e) {
                    refused++;
                }
            }
            assertEquals(20, refused, "the budget refused writes");
            copyDirectory(where, dir.resolve("crashed"));
        }
        // Reopened with headroom: a map filled to its budget is laid out afresh when it is loaded.
        for (Path p : new Path[] {where, dir.resolve("crashed")}) {
            try (ShardedHashMap<String, byte[]> map = ShardedHashMap.builder(String.class, byte[].class).shards(2)
                .memoryBudget(4L << 20).persistedTo(p).build()) {
                assertEquals(model.keySet(), new java.util.HashSet<>(map.keySet()));
            }
        }
    }

    /**
     * Damaged journals: random truncations, flipped bits, and record lengths forged (past the end, negative, huge)
     * with their checksum recomputed. Each is either rejected with {@link CorruptedFileException} or, where the
     * damage hit bytes no record covers (padding, the zeroed tail), opens to exactly the undamaged contents; never
     * another exception, a crash or a partly opened map.
     */
    @Test
    void damagedJournalsAreRejectedOrHarmless() throws IOException {
        final Path original = dir.resolve("original");
        final Map<String, String> model = new HashMap<>();
        try (ShardedHashMap<String, String> map = ShardedHashMap.builder(String.class, String.class)
            .persistedTo(original).shards(4).build()) {
            final Random random = new Random(5);
            for (int i = 0; i < 400; i++) {
                final String k = "k" + random.nextInt(300);
                if (random.nextInt(5) == 0) {
                    map.remove(k);
                    model.remove(k);
                } else {
                    final String v = "v" + i + "-".repeat(random.nextInt(40));
                    map.put(k, v);
                    model.put(k, v);
                }
            }
            copyDirectory(original, dir.resolve("image"));
        }
        final Path image = dir.resolve("image");
        final List<Path> lanes = journals(image);
        final Random random = new Random(11);
        final int variants = StressSupport.STRESS ? 3_000 : 300;
        int rejected = 0;
        for (int v = 0; v < variants; v++) {
            final Path damaged = dir.resolve("damaged-" + v);
            copyDirectory(image, damaged);
            final Path lane = damaged.resolve(lanes.get(random.nextInt(lanes.size())).getFileName());
            final byte[] bytes = Files.readAllBytes(lane);
            final int end = 64 + (int) recordBytes(lane);
            switch (v % 3) {
                case 0: {   // truncation
                    Files.write(lane, java.util.Arrays.copyOf(bytes, random.nextInt(end + 1)));
                    break;
                }
                case 1: {   // one to three flipped bits, mostly inside the records
                    for (int b = random.nextInt(3); b >= 0; b--) {
                        final int at = random.nextInt(Math.min(bytes.length, end + 64));
                        bytes[at] ^= (byte) (1 << random.nextInt(8));
                    }
                    Files.write(lane, bytes);
                    break;
                }
                default: {   // a record's key or value length forged, its checksum recomputed
                    if (end == 64) {
                        continue;
                    }
                    final ByteBuffer b = ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    int at = 64;
                    for (int skip = random.nextInt(10); skip > 0 && at + b.getInt(at) < end; skip--) {
                        at += b.getInt(at);
                    }
                    final int field = at + (random.nextBoolean() ? 12 : 16);   // key or value length
                    final int[] forged = {-1, Integer.MIN_VALUE, Integer.MAX_VALUE, 1 << 30, bytes.length,
                        b.getInt(field) + 8, b.getInt(field) + 1000};
                    b.putInt(field, forged[random.nextInt(forged.length)]);
                    final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                    final int checked = Math.min(Math.max(0, b.getInt(at) - 8), bytes.length - at - 8);
                    crc.update(bytes, at + 8, checked);
                    b.putInt(at + 4, (int) crc.getValue());
                    Files.write(lane, bytes);
                }
            }
            try (ShardedHashMap<String, String> map = ShardedHashMap.builder(String.class, String.class)
                .persistedTo(damaged).shards(4).build()) {
                assertEquals(model, new HashMap<>(map), "variant " + v + " opened with other contents");
            } catch (UncheckedIOException e) {
                assertInstanceOf(CorruptedFileException.class, e.getCause(), "variant " + v);
                rejected++;
            }
            try (Stream<Path> files = Files.walk(damaged)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        assertTrue(rejected > variants / 2, rejected + " of " + variants + " rejected");
    }

    @Test
    void persistenceMethodsOfAMapInMemoryExplainThemselves() {
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.create(Long.class, Long.class)) {
            final IllegalStateException e = assertThrows(IllegalStateException.class, map::checkpoint);
            assertTrue(e.getMessage().contains("persistedTo"), e.getMessage());
        }
        final ShardedHashMap<Long, Long> closed = longs(dir.resolve("closed")).build();
        closed.close();
        assertThrows(IllegalStateException.class, closed::sync);
        assertThrows(IllegalStateException.class, () -> longs(dir).load(dir.resolve("x.map")));
        assertThrows(IllegalArgumentException.class, () -> longs(dir).checkpointAfter(1000));
    }

    static void copyDirectory(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.collect(Collectors.toList())) {
                if (!f.getFileName().toString().endsWith(".lock")) {
                    Files.copy(f, to.resolve(f.getFileName()));
                }
            }
        }
    }

    static String describe(Path where) throws IOException {
        try (Stream<Path> files = Files.list(where)) {
            return files.map(p -> p.getFileName() + "=" + p.toFile().length() + "/" + recordBytes(p))
                .collect(Collectors.joining(", "));
        }
    }

    static List<Path> journals(Path where) throws IOException {
        try (Stream<Path> files = Files.list(where)) {
            return files.filter(p -> p.getFileName().toString().startsWith("journal-")).collect(Collectors.toList());
        }
    }

    static List<Path> checkpoints(Path where) throws IOException {
        try (Stream<Path> files = Files.list(where)) {
            return files.filter(p -> p.getFileName().toString().matches("checkpoint-\\d+\\.map"))
                .collect(Collectors.toList());
        }
    }

    static long generationOf(Path checkpoint) {
        final String name = checkpoint.getFileName().toString();
        return Long.parseLong(name.substring("checkpoint-".length(), name.length() - ".map".length()));
    }

    /** Bytes of records in the journals (the files are zero-filled ahead: count up to each lane's end). */
    static long journalBytes(Path where) throws IOException {
        long sum = 0;
        for (Path lane : journals(where)) {
            sum += recordBytes(lane);
        }
        return sum;
    }

    static long recordBytes(Path lane) {
        try {
            final ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(lane)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            int at = 64;
            while (at + 8 <= all.limit() && all.getInt(at) != 0) {
                at += all.getInt(at);
            }
            return at - 64;
        } catch (IOException e) {
            return 0;   // deleted by a checkpoint meanwhile
        }
    }
}
