package io.starshard.offheap;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.ToLongFunction;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Randomised differential test: a {@link Segment} against a {@code HashMap<ByteKey, byte[]>}, with growth,
 * tombstones, clear, scans, export/import, entry sizes from 0 to the maximum, and hash collisions forced by
 * degenerate hash functions. Contents are compared in full at every checkpoint.
 *
 * <p>Default: about 1.1 million operations. {@code -Dstarshard.stress=true} multiplies them by
 * {@link #STRESS_FACTOR}; {@code -Dstarshard.model.seed=N} replays a failure (the seed is in every message).
 */
class SegmentModelTest {
    private static final boolean STRESS = Boolean.getBoolean("starshard.stress");
    private static final int STRESS_FACTOR = 15;
    private static final long BASE_SEED = Long.getLong("starshard.model.seed", 0x5EED_0001L);
    private static final KeyHasher HASHER = new KeyHasher(0x1234_5678_9ABCL);

    /** One configuration of the model test. */
    static final class Config {
        final String name;
        final SegmentSpec spec;
        final int poolSize;
        final int operations;
        /** Hash for an indirect key; null for inline (the hash is always hashFixed of the key). */
        final ToLongFunction<byte[]> hash;
        /** For inline width-8 configs: which hashes to draw keys from (key = unhashFixed(hash)); else null. */
        final java.util.function.LongUnaryOperator inlineHashShape;
        /**
         * Control bytes above which the segment prepares its next table ahead and drains the old one
         * incrementally: the default, or 0 so that every growth of these small tables takes that path.
         */
        final long syncFillBytes;

        Config(String name, SegmentSpec spec, int poolSize, int operations, ToLongFunction<byte[]> hash,
               java.util.function.LongUnaryOperator inlineHashShape) {
            this(name, spec, poolSize, operations * (STRESS ? STRESS_FACTOR : 1), hash, inlineHashShape,
                TableGrowth.SYNC_FILL_BYTES);
        }

        private Config(String name, SegmentSpec spec, int poolSize, int operations, ToLongFunction<byte[]> hash,
                       java.util.function.LongUnaryOperator inlineHashShape, long syncFillBytes) {
            this.name = name;
            this.spec = spec;
            this.poolSize = poolSize;
            this.operations = operations;
            this.hash = hash;
            this.inlineHashShape = inlineHashShape;
            this.syncFillBytes = syncFillBytes;
        }

        /** The same run with every growth prepared ahead and drained incrementally. */
        Config incremental() {
            return new Config(name + ", growth prepared ahead and drained", spec, poolSize, operations, hash,
                inlineHashShape, 0);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private static long realHash(byte[] key) {
        return HASHER.hash(new UnsafeBuffer(key), 0, key.length);
    }

    static Stream<Config> configs() {
        return baseConfigs().flatMap(c -> Stream.of(c, c.incremental()));
    }

    private static Stream<Config> baseConfigs() {
        return Stream.of(
            new Config("indirect, real hash, max entry 300", SegmentSpec.indirect(300), 3000, 200_000,
                SegmentModelTest::realHash, null),
            new Config("indirect, real hash, large entries up to 150000", SegmentSpec.indirect(150_000), 600, 25_000,
                SegmentModelTest::realHash, null),
            new Config("indirect, constant hash", SegmentSpec.indirect(64).withInitialEntries(0), 120, 40_000,
                k -> 0x4242_4242_4242_4242L, null),
            new Config("indirect, 3 distinct hashes", SegmentSpec.indirect(100), 240, 50_000,
                k -> (realHash(k) & 3) == 0 ? 7L : (realHash(k) & 1) * 0x1_0000_0080L, null),
            new Config("indirect, same tag, different positions", SegmentSpec.indirect(120), 2000, 100_000,
                k -> (realHash(k) & ~0x7FL) | 0x15, null),
            new Config("indirect, same position, different tags", SegmentSpec.indirect(120), 400, 60_000,
                k -> realHash(k) & 0xFFFF_FFFF_0000_007FL, null),
            new Config("indirect, 16 hashes differing in bits 32+ only", SegmentSpec.indirect(80), 200, 40_000,
                k -> (realHash(k) & 0xF) << 40, null),
            new Config("inline long->long", SegmentSpec.inline(8, 8, HASHER), 3000, 200_000, null, h -> h),
            new Config("inline long->long, same tag", SegmentSpec.inline(8, 8, HASHER), 1500, 80_000, null,
                h -> (h & ~0x7FL) | 0x2A),
            new Config("inline long->long, same home group", SegmentSpec.inline(8, 8, HASHER), 300, 60_000, null,
                h -> h & 0xFFFF_FFFF_0000_007FL),
            new Config("inline 4->0 (key only)", SegmentSpec.inline(4, 0, HASHER), 3000, 100_000, null, null),
            new Config("inline 2->16", SegmentSpec.inline(2, 16, HASHER).withInitialEntries(100), 2000, 70_000,
                null, null),
            new Config("inline 1->3", SegmentSpec.inline(1, 3, HASHER), 256, 50_000, null, null),
            new Config("inline 8->5", SegmentSpec.inline(8, 5, HASHER), 1000, 60_000, null, h -> h));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void segmentMatchesHashMapModel(Config config) {
        long seed = BASE_SEED ^ config.name.hashCode();
        OffHeapMemory memory = OffHeapMemory.unlimited();
        EpochDomain epochs = new EpochDomain();
        Run run = new Run(config, seed, memory, epochs);
        try {
            run.execute();
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(config + ", seed " + seed + " (replay with -Dstarshard.model.seed="
                + BASE_SEED + "), operation " + run.op + ": " + e, e);
        } finally {
            run.segment.close();
        }
        assertEquals(0, memory.usedBytes(), "memory after close");
        assertEquals(0, memory.liveAllocations(), "allocations after close");
    }

    /** One model run; fields are its state. */
    private static final class Run {
        final Config config;
        final SplittableRandom random;
        final OffHeapMemory memory;
        final EpochDomain epochs;
        final boolean inline;
        final int keyWidth;
        final int valueWidth;
        final int maxEntry;
        final ByteKey[] pool;
        final Map<ByteKey, byte[]> model = new HashMap<>();
        final UnsafeBuffer keyBuffer;
        final UnsafeBuffer valueBuffer;
        final UnsafeBuffer fixedOut;
        final ExpandableArrayBuffer expandableOut = new ExpandableArrayBuffer(16);
        Segment segment;
        int op;
        long checkpoints;
        int maxTombstones;
        int churnCursor;
        int rareOperations;
        int maxSize;
        long growths;
        long rebuilds;

        Run(Config config, long seed, OffHeapMemory memory, EpochDomain epochs) {
            this.config = config;
            this.random = new SplittableRandom(seed);
            this.memory = memory;
            this.epochs = epochs;
            this.inline = config.spec.isInline();
            this.keyWidth = config.spec.keyWidth();
            this.valueWidth = config.spec.valueWidth();
            this.maxEntry = config.spec.maxEntryBytes();
            this.pool = makePool();
            this.keyBuffer = new UnsafeBuffer(new byte[maxEntry + 16]);
            this.valueBuffer = new UnsafeBuffer(new byte[maxEntry + 32]);
            this.fixedOut = new UnsafeBuffer(new byte[maxEntry + 16]);
            this.segment = new Segment(config.spec, memory, epochs, config.syncFillBytes);
        }

        private ByteKey[] makePool() {
            Set<ByteKey> keys = new LinkedHashSet<>();
            int attempts = 0;
            while (keys.size() < config.poolSize && attempts++ < config.poolSize * 20) {
                keys.add(new ByteKey(newKey()));
            }
            return keys.toArray(new ByteKey[0]);
        }

        private byte[] newKey() {
            if (inline) {
                byte[] key = new byte[keyWidth];
                if (config.inlineHashShape != null) {
                    long bits = HASHER.unhashFixed(config.inlineHashShape.applyAsLong(random.nextLong()));
                    for (int i = 0; i < 8; i++) {
                        key[i] = (byte) (bits >>> (8 * i));
                    }
                } else {
                    random.nextBytes(key);
                }
                return key;
            }
            int r = random.nextInt(100);
            int length;
            if (r < 3) {
                length = 0;
            } else if (r < 70) {
                length = 1 + random.nextInt(24);
            } else if (r < 92) {
                length = 25 + random.nextInt(Math.max(1, Math.min(100, maxEntry) - 25));
            } else if (r < 97) {
                length = random.nextInt(maxEntry / 2 + 1);
            } else {
                length = maxEntry - random.nextInt(3);   // leaves room for values of 0..2 bytes only
            }
            byte[] key = new byte[Math.max(0, Math.min(length, maxEntry))];
            random.nextBytes(key);
            return key;
        }

        private byte[] newValue(ByteKey key) {
            if (inline) {
                byte[] v = new byte[valueWidth];
                random.nextBytes(v);
                return v;
            }
            int room = maxEntry - key.bytes.length;
            int r = random.nextInt(100);
            int length;
            if (r < 5) {
                length = 0;
            } else if (r < 80) {
                length = random.nextInt(Math.min(room, 48) + 1);
            } else if (r < 96) {
                length = random.nextInt(room + 1);
            } else {
                length = room;
            }
            byte[] v = new byte[length];
            random.nextBytes(v);
            return v;
        }

        private long hash(ByteKey key) {
            return inline ? HASHER.hashFixed(new UnsafeBuffer(key.bytes), 0, keyWidth) : config.hash.applyAsLong(key.bytes);
        }

        /** Puts the key at a random offset of the key buffer; returns the offset. */
        private int stageKey(ByteKey key) {
            int offset = random.nextInt(16);
            keyBuffer.putBytes(offset, key.bytes);
            return offset;
        }

        private int stageValue(byte[] value) {
            int offset = random.nextInt(32);
            valueBuffer.putBytes(offset, value);
            return offset;
        }

        void execute() {
            int checkpointEvery = Math.max(500, config.operations / 25);
            for (op = 0; op < config.operations; op++) {
                step();
                if (op % checkpointEvery == 0) {
                    checkpoint();
                }
            }
            checkpoint();
            assertTrue(checkpoints > 10);
            assertTrue(rareOperations > 0 || config.operations < 4000, "no clear/export/import ran");
            System.out.printf("%s: %d operations, %d checkpoints, max size %d, max tombstones %d, growths %d,"
                + " same-size rebuilds %d, final %s%n", config, config.operations, checkpoints, maxSize, maxTombstones,
                growths, rebuilds, segment.stats());
            // The run must have exercised what it claims to: growth and tombstones (same-size rebuilds are rare in
            // random workloads; SegmentLayoutTest constructs one).
            assertTrue(growths > 0, "the table never grew");
            assertTrue(maxTombstones > 0, "no tombstone was ever left");
        }

        private void step() {
            ByteKey key = pool[random.nextInt(pool.length)];
            long hash = hash(key);
            int r = random.nextInt(1000);
            // Phases: mostly inserting, then mostly removing, so the table grows and fills with tombstones; then
            // churn (remove old keys, insert other ones), which leaves tombstones until a same-size rebuild.
            int phase = (op / 20_000) % 4;
            boolean removing = phase == 2;
            if (phase == 3 && r < 400) {
                churn();
                return;
            }
            if (r < 250) {
                checkGet(key, hash);
            } else if (r < 300) {
                checkLookup(key, hash);
            } else if (r < (removing ? 380 : 550)) {
                put(key, hash);
            } else if (r < 620) {
                putIfAbsent(key, hash);
            } else if (r < 700) {
                replace(key, hash);
            } else if (r < (removing ? 950 : 800)) {
                remove(key, hash);
            } else if (r < 860) {
                slotOperations(key, hash);
            } else if (r < 900) {
                primitiveOperations(key, hash);
            } else if (r < 930) {
                tooLarge(key, hash);
            } else if (r < 999 || random.nextInt(4) != 0) {
                checkGet(key, hash);
            } else {
                rareOperation();   // O(size): about once per 4000 operations
            }
        }

        private void churn() {
            int n = pool.length;
            ByteKey old = pool[churnCursor % n];
            ByteKey fresh = pool[(churnCursor + n / 3) % n];
            churnCursor++;
            remove(old, hash(old));
            put(fresh, hash(fresh));
        }

        private void rareOperation() {
            rareOperations++;
            int r = random.nextInt(100);
            if (r < 10) {
                segment.clear();
                model.clear();
                assertEquals(0, segment.size());
                assertEquals(-1, segment.nextFull(0));
                segment.verifyInvariants();
            } else if (r < 55) {
                exportImportRoundTrip();
            } else {
                checkPartialExports();
            }
        }

        private void checkGet(ByteKey key, long hash) {
            int keyOffset = stageKey(key);
            byte[] expected = model.get(key);
            boolean expandable = random.nextBoolean();
            MutableDirectBuffer out = expandable ? expandableOut : fixedOut;
            int outOffset = expandable ? random.nextInt(64) : random.nextInt(17);
            int n = segment.optimisticGet(hash, keyBuffer, keyOffset, key.bytes.length, out, outOffset);
            if (expected == null) {
                assertEquals(Segment.NOT_FOUND, n, "get of absent " + key);
                return;
            }
            assertEquals(expected.length, n, "value length of " + key);
            byte[] actual = new byte[n];
            out.getBytes(outOffset, actual);
            assertArrayEquals(expected, actual, "value of " + key);
        }

        private void checkLookup(ByteKey key, long hash) {
            int keyOffset = stageKey(key);
            boolean present = model.containsKey(key);
            int slot = segment.optimisticLookup(hash, keyBuffer, keyOffset, key.bytes.length);
            assertEquals(present, slot >= 0, "lookup of " + key);
            int found = segment.find(hash, keyBuffer, keyOffset, key.bytes.length);
            assertEquals(slot, found, "find and lookup agree");
            if (present) {
                assertEquals(hash, segment.hashAt(found));
                assertEquals(key.bytes.length, segment.keyLength(found));
                assertEquals(model.get(key).length, segment.valueLength(found));
            }
        }

        private void put(ByteKey key, long hash) {
            byte[] value = newValue(key);
            int keyOffset = stageKey(key);
            int valueOffset = stageValue(value);
            boolean isNew = segment.put(hash, keyBuffer, keyOffset, key.bytes.length, valueBuffer, valueOffset,
                value.length);
            assertEquals(!model.containsKey(key), isNew, "put of " + key);
            model.put(key, value);
        }

        private void putIfAbsent(ByteKey key, long hash) {
            byte[] value = newValue(key);
            int keyOffset = stageKey(key);
            int valueOffset = stageValue(value);
            boolean inserted = segment.putIfAbsent(hash, keyBuffer, keyOffset, key.bytes.length, valueBuffer,
                valueOffset, value.length);
            assertEquals(!model.containsKey(key), inserted, "putIfAbsent of " + key);
            model.putIfAbsent(key, value);
        }

        private void replace(ByteKey key, long hash) {
            byte[] value = newValue(key);
            int keyOffset = stageKey(key);
            int valueOffset = stageValue(value);
            boolean replaced = segment.replace(hash, keyBuffer, keyOffset, key.bytes.length, valueBuffer,
                valueOffset, value.length);
            assertEquals(model.containsKey(key), replaced, "replace of " + key);
            model.replace(key, value);
        }

        private void remove(ByteKey key, long hash) {
            int keyOffset = stageKey(key);
            assertEquals(model.remove(key) != null, segment.remove(hash, keyBuffer, keyOffset, key.bytes.length),
                "remove of " + key);
        }

        /** The slot-level API the map uses under its locks: find, insert, replaceValue, readKey/Value, removeAt. */
        private void slotOperations(ByteKey key, long hash) {
            int keyOffset = stageKey(key);
            int slot = segment.find(hash, keyBuffer, keyOffset, key.bytes.length);
            byte[] expected = model.get(key);
            assertEquals(expected != null, slot >= 0);
            if (slot < 0) {
                byte[] value = newValue(key);
                int valueOffset = stageValue(value);
                int at = segment.insert(hash, keyBuffer, keyOffset, key.bytes.length, valueBuffer, valueOffset,
                    value.length);
                model.put(key, value);
                assertEquals(at, segment.find(hash, keyBuffer, keyOffset, key.bytes.length), "insert's slot");
                return;
            }
            ExpandableArrayBuffer out = new ExpandableArrayBuffer(1);
            assertEquals(key.bytes.length, segment.readKey(slot, out, 5));
            byte[] k = new byte[key.bytes.length];
            out.getBytes(5, k);
            assertArrayEquals(key.bytes, k, "readKey");
            assertEquals(expected.length, segment.readValue(slot, out, 3));
            byte[] v = new byte[expected.length];
            out.getBytes(3, v);
            assertArrayEquals(expected, v, "readValue");
            switch (random.nextInt(3)) {
                case 0:
                    segment.removeAt(slot);
                    model.remove(key);
                    break;
                case 1:
                    byte[] value = newValue(key);
                    segment.replaceValue(slot, valueBuffer, stageValue(value), value.length);
                    model.put(key, value);
                    break;
                default:
                    break;
            }
        }

        /** Inline format: the long-based API (getLong for every width up to 8, the 8-byte-value writes). */
        private void primitiveOperations(ByteKey key, long hash) {
            if (!inline) {
                assertThrows(UnsupportedOperationException.class, () -> segment.optimisticGetLong(hash, 0));
                return;
            }
            byte[] expected = model.get(key);
            if (valueWidth > 8) {
                assertThrows(UnsupportedOperationException.class, () -> segment.optimisticGetLong(hash, 0));
                return;
            }
            long missing = random.nextLong();
            long got = segment.optimisticGetLong(hash, missing);
            if (expected == null) {
                assertEquals(missing, got, "getLong of absent " + key);
            } else {
                assertEquals(littleEndian(expected), got, "getLong of " + key);
            }
            if (valueWidth != 8) {
                assertThrows(UnsupportedOperationException.class, () -> segment.putLong(hash, 1));
                return;
            }
            long bits = HASHER.unhashFixed(hash);
            assertEquals(littleEndian(key.bytes), bits);
            long value = random.nextLong();
            switch (random.nextInt(3)) {
                case 0:
                    assertEquals(expected == null, segment.putLong(hash, value));
                    break;
                case 1:
                    if (expected == null) {
                        int slot = segment.insertLong(hash, value);
                        assertEquals(bits, segment.readKeyBits(slot));
                    } else {
                        value = littleEndian(expected);
                    }
                    break;
                default:
                    if (expected == null) {
                        return;
                    }
                    int slot = segment.find(hash, null, 0, 0);
                    assertEquals(littleEndian(expected), segment.readValueLong(slot));
                    segment.replaceValueLong(slot, value);
                    break;
            }
            model.put(key, toBytes(value, 8));
        }

        private void tooLarge(ByteKey key, long hash) {
            int keyOffset = stageKey(key);
            if (inline) {
                int wrong = random.nextBoolean() ? valueWidth + 1 : Math.max(0, valueWidth - 1);
                if (wrong == valueWidth) {
                    wrong++;
                }
                int width = wrong;
                assertThrows(IllegalArgumentException.class,
                    () -> segment.put(hash, keyBuffer, keyOffset, keyWidth, valueBuffer, 0, width));
                return;
            }
            int valueLength = maxEntry - key.bytes.length + 1 + random.nextInt(16);
            if (valueLength > valueBuffer.capacity()) {
                return;
            }
            EntryTooLargeException e = assertThrows(EntryTooLargeException.class,
                () -> segment.put(hash, keyBuffer, keyOffset, key.bytes.length, valueBuffer, 0, valueLength));
            assertEquals(key.bytes.length + valueLength, e.entryBytes());
            assertEquals(maxEntry, e.maxEntryBytes());
            int slot = segment.find(hash, keyBuffer, keyOffset, key.bytes.length);
            if (slot >= 0) {
                assertThrows(EntryTooLargeException.class, () -> segment.replaceValue(slot, valueBuffer, 0, valueLength));
            }
        }

        /** Exports everything in random-sized batches; imports into a fresh segment, or back after a clear. */
        private void exportImportRoundTrip() {
            ExpandableArrayBuffer records = new ExpandableArrayBuffer(64);
            int length = exportAll(records);
            if (random.nextBoolean()) {
                try (Segment copy = new Segment(config.spec, memory, epochs, config.syncFillBytes)) {
                    assertEquals(model.size(), copy.importRecords(records, 0, length));
                    copy.verifyInvariants();
                    compareContents(copy);
                }
            } else {
                segment.clear();
                assertEquals(0, segment.size());
                assertEquals(model.size(), segment.importRecords(records, 0, length));
                // Importing again replaces every key with itself: nothing changes.
                assertEquals(model.size(), segment.importRecords(records, 0, length));
                segment.verifyInvariants();
            }
            assertEquals(model.size(), segment.size());
        }

        private int exportAll(ExpandableArrayBuffer records) {
            int slot = 0;
            int length = 0;
            int capacity = segment.slotLimit();
            while (slot < capacity) {
                int room = RecordDescriptor.HEADER_BYTES + maxEntry + random.nextInt(2000);
                long result = segment.exportRange(slot, Integer.MAX_VALUE, records, length, room);
                int next = Segment.exportNextSlot(result);
                assertTrue(next > slot || Segment.exportBytes(result) > 0, "exportRange made progress");
                length += Segment.exportBytes(result);
                slot = next;
            }
            return length;
        }

        /** Consecutive ranges with random bounds export exactly the model, each entry once. */
        private void checkPartialExports() {
            int capacity = segment.slotLimit();
            Map<ByteKey, byte[]> seen = new HashMap<>();
            ExpandableArrayBuffer records = new ExpandableArrayBuffer(64);
            int from = 0;
            while (from < capacity) {
                int to = Math.min(capacity, from + 1 + random.nextInt(Math.max(1, capacity / 3)));
                int slot = from;
                while (slot < to) {
                    long result = segment.exportRange(slot, to, records, 0, RecordDescriptor.HEADER_BYTES + maxEntry);
                    parseRecords(records, Segment.exportBytes(result), seen);
                    slot = Segment.exportNextSlot(result);
                }
                assertEquals(to, slot);
                from = to;
            }
            assertModelEquals(seen, "partial exports");
        }

        private void parseRecords(ExpandableArrayBuffer records, int length, Map<ByteKey, byte[]> into) {
            for (int at = 0; at < length; ) {
                long hash = records.getLong(at, ByteOrder.LITTLE_ENDIAN);
                int k = records.getInt(at + 8, ByteOrder.LITTLE_ENDIAN);
                int v = records.getInt(at + 12, ByteOrder.LITTLE_ENDIAN);
                byte[] key = new byte[k];
                byte[] value = new byte[v];
                records.getBytes(at + RecordDescriptor.HEADER_BYTES, key);
                records.getBytes(at + RecordDescriptor.HEADER_BYTES + k, value);
                ByteKey bk = new ByteKey(key);
                assertEquals(hash(bk), hash, "exported hash of " + bk);
                assertTrue(into.put(bk, value) == null, "exported twice: " + bk);
                at += RecordDescriptor.HEADER_BYTES + k + v;
            }
        }

        void checkpoint() {
            checkpoints++;
            segment.verifyInvariants();
            assertEquals(model.size(), segment.size(), "size");
            compareContents(segment);
            for (int i = 0; i < 50; i++) {
                ByteKey key = pool[random.nextInt(pool.length)];
                checkGet(key, hash(key));
            }
            SegmentStats stats = segment.stats();
            assertEquals(model.size(), stats.entries());
            maxTombstones = Math.max(maxTombstones, stats.tombstones());
            maxSize = Math.max(maxSize, stats.entries());
            growths = Math.max(growths, stats.growths());
            rebuilds = Math.max(rebuilds, stats.rebuilds());
            assertEquals(0, stats.capacity() % 8);
            assertTrue(stats.tombstones() >= 0 && stats.entries() + stats.tombstones() <= stats.capacity() / 8 * Table.MAX_FILL_PER_GROUP,
                "fill limit: " + stats);
            if (!inline) {
                long live = 0;
                for (Map.Entry<ByteKey, byte[]> e : model.entrySet()) {
                    live += EntryDescriptor.HEADER_BYTES + e.getKey().bytes.length + e.getValue().length;
                }
                assertEquals(live, stats.liveEntryBytes(), "live entry bytes");
                assertTrue(stats.liveEntryBytes() <= stats.arenaBytes(), stats.toString());
            }
            // No reader is inside a section, so retired memory is free to go; blocks of 1 MiB and more (arena chunks
            // retired by clear) are freed on the domain's releaser thread, which synchronize() waits for. Then the
            // accountant holds exactly what the segment reports.
            epochs.synchronize();
            assertEquals(stats.allocatedBytes(), memory.usedBytes(), "accounted bytes: " + stats);
            assertFalse(epochs.hasPending());
        }

        /** Full scan via nextFull and readKey/readValue equals the model; also every model key reads back. */
        private void compareContents(Segment s) {
            Map<ByteKey, byte[]> scanned = new HashMap<>();
            ExpandableArrayBuffer out = new ExpandableArrayBuffer(16);
            int previous = -1;
            for (int slot = s.nextFull(0); slot >= 0; slot = s.nextFull(slot + 1)) {
                assertTrue(slot > previous);
                previous = slot;
                int k = s.readKey(slot, out, 0);
                byte[] key = new byte[k];
                out.getBytes(0, key);
                int v = s.readValue(slot, out, 0);
                byte[] value = new byte[v];
                out.getBytes(0, value);
                ByteKey bk = new ByteKey(key);
                assertEquals(hash(bk), s.hashAt(slot), "stored hash of " + bk);
                if (inline) {
                    assertEquals(littleEndian(key), s.readKeyBits(slot));
                }
                assertTrue(scanned.put(bk, value) == null, "scanned twice: " + bk);
            }
            assertEquals(s.size(), scanned.size(), "scan count vs size");
            assertModelEquals(scanned, "scan");
            for (Map.Entry<ByteKey, byte[]> e : model.entrySet()) {
                ByteKey key = e.getKey();
                int offset = stageKey(key);
                int n = s.optimisticGet(hash(key), keyBuffer, offset, key.bytes.length, out, 0);
                assertEquals(e.getValue().length, n, "get of " + key);
                byte[] value = new byte[n];
                out.getBytes(0, value);
                assertArrayEquals(e.getValue(), value, "get of " + key);
            }
        }

        private void assertModelEquals(Map<ByteKey, byte[]> actual, String what) {
            if (!actual.keySet().equals(model.keySet())) {
                List<ByteKey> missing = new ArrayList<>(model.keySet());
                missing.removeAll(actual.keySet());
                List<ByteKey> extra = new ArrayList<>(actual.keySet());
                extra.removeAll(model.keySet());
                fail(what + ": keys differ; missing " + missing + ", unexpected " + extra);
            }
            for (Map.Entry<ByteKey, byte[]> e : model.entrySet()) {
                if (!Arrays.equals(e.getValue(), actual.get(e.getKey()))) {
                    fail(what + ": value of " + e.getKey() + " differs");
                }
            }
        }
    }

    static long littleEndian(byte[] bytes) {
        long bits = 0;
        for (int i = Math.min(8, bytes.length) - 1; i >= 0; i--) {
            bits = (bits << 8) | (bytes[i] & 0xFF);
        }
        return bits;
    }

    static byte[] toBytes(long bits, int width) {
        byte[] b = new byte[width];
        for (int i = 0; i < width; i++) {
            b[i] = (byte) (bits >>> (8 * i));
        }
        return b;
    }
}
