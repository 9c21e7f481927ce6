package io.starshard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Save and load: round trips for fixed-width and variable-length codecs and for 0, 1 and many entries, into
 * another shard count; the previous file survives a failed save; and thousands of damaged files (truncated,
 * bit-flipped, lengths forged with valid checksums) are each rejected with {@link CorruptedFileException}, never
 * loaded in part, never crashing.
 */
class PersistenceTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 1_000_000})
    void aLongMapComesBackEqualIntoAnyShardCount(int entries) throws IOException {
        final Path file = dir.resolve("longs.map");
        final Map<Long, Long> model = new HashMap<>();
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 16)) {
            final Random random = new Random(entries);
            for (int i = 0; i < entries; i++) {
                final long k = random.nextLong();
                map.put(k, (long) i);
                model.put(k, (long) i);
            }
            final List<long[]> progress = new ArrayList<>();
            map.save(file, (done, total, bytes) -> progress.add(new long[] {done, total, bytes}));
            assertTrue(progress.size() >= 16, "progress after every block");
            assertEquals(entries, progress.get(progress.size() - 1)[0]);
            assertEquals(Files.size(file), progress.get(progress.size() - 1)[2]);
        }
        for (int shards : new int[] {16, 7, 64}) {
            try (ShardedHashMap<Long, Long> loaded = ShardedHashMap.builder(Long.class, Long.class).shards(shards)
                .load(file)) {
                assertEquals(shards, loaded.shardCount());
                assertEquals(model, new HashMap<>(loaded));
                MapInvariants.checkLive(loaded);
                loaded.put(-1L, -1L);   // the loaded map works as any other
                assertEquals(-1L, loaded.get(-1L));
            }
        }
    }

    @Test
    void variableLengthKeysAndValuesComeBack() throws IOException {
        final Path file = dir.resolve("strings.map");
        final Map<String, byte[]> model = new HashMap<>();
        try (ShardedHashMap<String, byte[]> map = ShardedHashMap.builder(String.class, byte[].class).build()) {
            for (int i = 0; i < 20_000; i++) {
                final byte[] value = new byte[i % 300];
                for (int j = 0; j < value.length; j++) {
                    value[j] = (byte) (i + j);
                }
                map.put("key-" + i, value);
                model.put("key-" + i, value);
            }
            map.remove("key-5");
            model.remove("key-5");
            map.save(file);
        }
        try (ShardedHashMap<String, byte[]> loaded = ShardedHashMap.builder(String.class, byte[].class).shards(3)
            .load(file)) {
            assertEquals(model.size(), loaded.size());
            for (Map.Entry<String, byte[]> e : model.entrySet()) {
                assertArrayEquals(e.getValue(), loaded.get(e.getKey()), e.getKey());
            }
        }
    }

    @Test
    void aMapSavedDuringAnOnlineRebalanceLoadsComplete() throws IOException {
        final Path file = dir.resolve("rebalancing.map");
        final Map<Long, Long> model = new HashMap<>();
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 8)) {
            for (long k = 0; k < 50_000; k++) {
                map.put(k, k * 7);
                model.put(k, k * 7);
            }
            map.startRebalanceOnline(13, RebalanceOptions.defaults().batchSize(1_000));
            map.advanceRebalance(20_000);
            assertEquals(RebalanceStatus.State.MIGRATING, map.rebalanceStatus().state());
            map.save(file);
        }
        try (ShardedHashMap<Long, Long> loaded = ShardedHashMap.builder(Long.class, Long.class).load(file)) {
            assertEquals(model, new HashMap<>(loaded));
        }
    }

    /** A value type with no built-in codec: Kryo encodes it. */
    record Quote(long bid, long ask, String venue) {
    }

    @Test
    void kryoCodedAndOtherBuiltInValuesComeBack() throws IOException {
        final Path quotes = dir.resolve("quotes.map");
        final Path doubles = dir.resolve("doubles.map");
        final io.starshard.codec.Codec<Quote> codec = io.starshard.codec.KryoCodec.of(Quote.class);
        try (ShardedHashMap<Integer, Quote> map = ShardedHashMap.builder(Integer.class, Quote.class)
                .valueCodec(codec).build();
             ShardedHashMap<Integer, Double> other = ShardedHashMap.create(Integer.class, Double.class)) {
            for (int i = 0; i < 1_000; i++) {
                map.put(i, new Quote(i, i + 1, "v" + i % 7));
                other.put(i, i / 3.0);
            }
            map.save(quotes);
            other.save(doubles);
        }
        try (ShardedHashMap<Integer, Quote> back = ShardedHashMap.builder(Integer.class, Quote.class)
                .valueCodec(io.starshard.codec.KryoCodec.of(Quote.class)).load(quotes);
             ShardedHashMap<Integer, Double> otherBack = ShardedHashMap.builder(Integer.class, Double.class)
                 .load(doubles)) {
            assertEquals(new Quote(5, 6, "v5"), back.get(5));
            assertEquals(1_000, back.size());
            assertEquals(1 / 3.0, otherBack.get(1));
        }
        // Kryo encodes every type with one codec class: the file names the type too, so another type is refused.
        assertThrows(IllegalArgumentException.class,
            () -> ShardedHashMap.builder(Integer.class, String.class)
                .valueCodec(io.starshard.codec.KryoCodec.of(String.class)).load(quotes));
    }

    @Test
    void aSaveReplacesThePreviousFileWhole() throws IOException {
        final Path file = dir.resolve("replace.map");
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.create(Long.class, Long.class)) {
            map.put(1L, 1L);
            map.save(file);
            map.put(2L, 2L);
            map.save(file);
        }
        try (ShardedHashMap<Long, Long> loaded = ShardedHashMap.builder(Long.class, Long.class).load(file)) {
            assertEquals(Map.of(1L, 1L, 2L, 2L), new HashMap<>(loaded));
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void aFileOfOtherCodecsOrAnotherSeedIsRefusedByName() throws IOException {
        final Path file = dir.resolve("codecs.map");
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class).hashSeed(5).build()) {
            map.put(1L, 1L);
            map.save(file);
        }
        final IllegalArgumentException codecs = assertThrows(IllegalArgumentException.class,
            () -> ShardedHashMap.builder(String.class, Long.class).load(file));
        assertTrue(codecs.getMessage().contains("LongCodec"), codecs.getMessage());
        final IllegalArgumentException seed = assertThrows(IllegalArgumentException.class,
            () -> ShardedHashMap.builder(Long.class, Long.class).hashSeed(6).load(file));
        assertTrue(seed.getMessage().contains("hash seed 5"), seed.getMessage());
        try (ShardedHashMap<Long, Long> same = ShardedHashMap.builder(Long.class, Long.class).hashSeed(5).load(file)) {
            assertEquals(1L, same.get(1L));
        }
    }

    @Test
    void thousandsOfDamagedFilesAreEachRejected() throws IOException {
        final Path good = dir.resolve("good.map");
        try (ShardedHashMap<String, String> map = ShardedHashMap.builder(String.class, String.class).shards(4)
            .build()) {
            for (int i = 0; i < 300; i++) {
                map.put("k" + i, "v" + i);
            }
            map.save(good);
        }
        final byte[] bytes = Files.readAllBytes(good);
        final Random random = new Random(42);
        final Path bad = dir.resolve("bad.map");
        int rejected = 0;
        for (int round = 0; round < 3_000; round++) {
            final byte[] damaged = damage(bytes, round % 4, random);
            Files.write(bad, damaged);
            try (ShardedHashMap<String, String> loaded = ShardedHashMap.builder(String.class, String.class)
                .load(bad)) {
                fail("round " + round + ": a damaged file loaded with " + loaded.size() + " entries");
            } catch (CorruptedFileException expected) {
                rejected++;
            } catch (Throwable other) {
                throw new AssertionError("round " + round + " (kind " + round % 4 + "): " + other, other);
            }
        }
        assertEquals(3_000, rejected);
    }

    /** One kind of damage: 0 truncation, 1 flipped bits, 2 a forged block length, 3 a forged record length. */
    private static byte[] damage(byte[] bytes, int kind, Random random) {
        switch (kind) {
            case 0:
                return java.util.Arrays.copyOf(bytes, random.nextInt(bytes.length));
            case 1: {
                final byte[] copy = bytes.clone();
                for (int i = 1 + random.nextInt(3); i > 0; i--) {
                    final int at = random.nextInt(copy.length);
                    copy[at] ^= (byte) (1 << random.nextInt(8));
                }
                return copy;
            }
            case 2:
                return forgeFirstBlock(bytes, random, true);
            default:
                return forgeFirstBlock(bytes, random, false);
        }
    }

    /**
     * Forges, with checksums recomputed so that only the bounds checks can catch it, the first block's payload
     * length (past the end, negative, huge) or its first record's key length.
     */
    private static byte[] forgeFirstBlock(byte[] bytes, Random random, boolean blockLength) {
        final byte[] copy = bytes.clone();
        final ByteBuffer b = ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN);
        final int header = b.getInt(12);
        final int[] forged = {Integer.MAX_VALUE, -1, Integer.MIN_VALUE, copy.length, 1 << 30, random.nextInt()};
        final int value = forged[random.nextInt(forged.length)];
        final int payloadLength = b.getInt(header + 24);
        if (blockLength || payloadLength == 0) {
            b.putInt(header + 24, value == payloadLength ? value + 1 : value);
        } else {
            final int record = header + 36;
            b.putInt(record + 8, value);   // key length
            b.putInt(header + 28, crc(copy, record, payloadLength));
        }
        b.putInt(header + 32, crc(copy, header, 32));
        return copy;
    }

    private static int crc(byte[] bytes, int offset, int length) {
        final CRC32C crc = new CRC32C();
        crc.update(bytes, offset, length);
        return (int) crc.getValue();
    }
}
