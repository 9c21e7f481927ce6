package io.starshard.offheap;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One writer mutates a segment (growth, removal, re-insertion, clear, in-place and moving updates, large
 * entries in dedicated chunks, replacement and close of whole segments) while two readers read the same memory
 * without any lock, as the map's optimistic readers do: inside an {@link EpochDomain} section, validated
 * afterwards by a seqlock this test keeps (the writer makes {@link #version} odd during each mutation).
 *
 * <p>What must hold: no crash of the JVM (a fault shows as the surefire fork dying), no exception from a racy
 * read except {@code IllegalStateException} from a segment closed under it, and every read that validates is
 * exactly right: found iff the writer's model has the key, with the value of the current generation (values
 * carry a checksum of their key and generation).
 *
 * <p>Default: about a second per variant. Under {@code -Dstarshard.stress=true}:
 * {@code -Dstarshard.torture.seconds} (default 10) per variant.
 */
class SegmentTortureTest {
    private static final boolean STRESS = Boolean.getBoolean("starshard.stress");
    private static final long MILLIS = STRESS ? Long.getLong("starshard.torture.seconds", 10) * 1000 : 1200;
    private static final int KEYS = 3000;
    private static final int MAX_ENTRY = 120_000;
    private static final int READERS = 2;
    /** Half of all operations, reads and writes, go to these keys, so reads of entries being freed are frequent. */
    private static final int HOT_KEYS = 16;
    private static final long MISSING = Long.MIN_VALUE;
    private static final KeyHasher HASHER = new KeyHasher(0xC0FFEE);

    /** Seqlock of the test: odd while the writer mutates. */
    private final AtomicLong version = new AtomicLong();
    /** Generation of each key's current value, -1 if absent; written inside the writer's odd window. */
    private final AtomicIntegerArray expected = new AtomicIntegerArray(KEYS);
    private final AtomicReference<Segment> current = new AtomicReference<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final EpochDomain epochs = new EpochDomain();
    private int segmentsCreated;

    /** Per-reader counters, summed at the end. */
    private static final class Counts {
        long validated;
        long validatedHits;
        long discarded;
        long retries;
        long closedExceptions;
        long busy;
    }

    @Test
    void indirectReadersRacingAWriter() throws Exception {
        run("indirect", false, 20_000);
    }

    @Test
    void inlineReadersRacingAWriter() throws Exception {
        run("inline", true, 20_000);
    }

    @Test
    void readersRacingClose() throws Exception {
        run("close-racing", false, 600);   // short rounds: a segment is closed under the readers every few ms
    }

    private void run(String variant, boolean inline, int opsPerRound) throws Exception {
        for (int i = 0; i < KEYS; i++) {
            expected.set(i, -1);
        }
        Counts[] counts = new Counts[READERS];
        Thread[] readers = new Thread[READERS];
        for (int r = 0; r < READERS; r++) {
            Counts c = new Counts();
            counts[r] = c;
            long seed = 1000 + r;
            readers[r] = new Thread(() -> readLoop(inline, seed, c), variant + "-reader-" + r);
            readers[r].setDaemon(true);
        }
        WriterStats w;
        OffHeapMemory memory = new OffHeapMemory(OffHeapMemory.UNLIMITED);
        current.set(newSegment(inline, memory));
        for (Thread t : readers) {
            t.start();
        }
        try {
            w = writeLoop(inline, opsPerRound, memory);
        } finally {
            stop.set(true);
            for (Thread t : readers) {
                t.join();
            }
            Segment last = current.get();
            if (last != null) {
                last.close();
            }
        }
        assertEquals(0, w.lastMemory.usedBytes(), "memory after the last close");
        assertEquals(0, w.lastMemory.liveAllocations());
        Counts total = new Counts();
        for (Counts c : counts) {
            total.validated += c.validated;
            total.validatedHits += c.validatedHits;
            total.discarded += c.discarded;
            total.retries += c.retries;
            total.closedExceptions += c.closedExceptions;
            total.busy += c.busy;
        }
        System.out.printf("torture %s (%d ms): writer %d mutations, %d segments, %d clears, %d growths, %d large"
                + " entries, %d maintenance steps (%d bytes relocated, %d shrinks); readers: %d validated (%d hits, %d misses), %d discarded (of which %d RETRY),"
                + " %d IllegalStateException from closed segments, %d started during a write%n",
            variant, MILLIS, w.mutations, w.segments, w.clears, w.growths, w.largeEntries, w.maintenanceSteps,
            w.relocatedBytes, w.shrinks, total.validated,
            total.validatedHits, total.validated - total.validatedHits, total.discarded, total.retries,
            total.closedExceptions, total.busy);
        if (failure.get() != null) {
            throw new AssertionError(variant + ": " + failure.get(), failure.get());
        }
        for (Counts c : counts) {
            assertTrue(c.validated > 0, "a reader validated no read at all");
        }
        assertTrue(total.validatedHits > 0, "no validated read found a key");
        if ("indirect".equals(variant)) {
            assertTrue(w.relocatedBytes > 0, "compaction moved no entry under the readers");
        }
        if ("close-racing".equals(variant)) {
            assertTrue(w.segments > 1, "no segment was closed under the readers");
            assertTrue(total.closedExceptions > 0, "no reader ever met a closed segment");
        }
    }

    private Segment newSegment(boolean inline, OffHeapMemory memory) {
        SegmentSpec spec = inline ? SegmentSpec.inline(8, 8, HASHER) : SegmentSpec.indirect(MAX_ENTRY);
        // Every other segment prepares each next table ahead and drains the old one incrementally, so readers
        // race the two-table state too.
        segmentsCreated++;
        return new Segment(spec.withInitialEntries(0), memory, epochs,
            segmentsCreated % 2 == 0 ? 0 : TableGrowth.SYNC_FILL_BYTES);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Keys and self-checking values
    // ---------------------------------------------------------------------------------------------------------

    /** Key 0 is empty, keys 1..255 are one byte (the id), the others 4..43 bytes starting with the id. */
    private static int keyLength(int id) {
        return id == 0 ? 0 : id < 256 ? 1 : 4 + (int) (mix(id) % 40);
    }

    private static void writeKey(UnsafeBuffer buffer, int id) {
        long m = mix(id);
        for (int i = 0; i < 48; i++) {
            buffer.putByte(i, (byte) (m >>> ((i & 7) * 8) ^ i));
        }
        if (id < 256) {
            buffer.putByte(0, (byte) id);
        }
        buffer.putInt(0, id, ByteOrder.LITTLE_ENDIAN);   // distinct keys (the inline format reads all 8 bytes)
        buffer.putInt(4, 0, ByteOrder.LITTLE_ENDIAN);
    }

    private static int randomKey(SplittableRandom random) {
        return random.nextBoolean() ? 300 + random.nextInt(HOT_KEYS) : random.nextInt(KEYS);
    }

    private static long keyHash(UnsafeBuffer key, int id, boolean inline) {
        return inline ? HASHER.hashFixed(id) : HASHER.hash(key, 0, keyLength(id));
    }

    private static long mix(long x) {
        long z = x * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }

    /** Value length of generation {@code gen} of key {@code id}: mostly near a per-key size, sometimes large. */
    private static int valueLength(int id, int gen) {
        long m = mix(((long) id << 32) | gen);
        int kind = (int) (m % 100);
        int base = 16 + (int) (mix(id) % 200);
        if (kind < 60) {
            return base + (int) ((m >>> 8) % 8);           // fits in place more often than not
        }
        if (kind < 97) {
            return 16 + (int) ((m >>> 8) % 3000);
        }
        if (kind < 99) {
            return 16 + (int) ((m >>> 8) % 30_000);
        }
        return 70_000 + (int) ((m >>> 8) % (MAX_ENTRY - 70_000 - 64));   // dedicated chunk
    }

    private static long checksum(int id, int gen) {
        return mix(mix(id) ^ ((long) gen << 20) ^ 0x5A5A);
    }

    private static byte fill(int id, int gen, int i) {
        return (byte) (id * 31 + gen * 17 + i);
    }

    private static void writeValue(UnsafeBuffer buffer, int id, int gen) {
        int length = valueLength(id, gen);
        buffer.putLong(0, checksum(id, gen), ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(8, id, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(12, gen, ByteOrder.LITTLE_ENDIAN);
        for (int i = 16; i < length; i++) {
            buffer.putByte(i, fill(id, gen, i));
        }
    }

    /** Null if the value read is exactly generation {@code gen} of key {@code id}; else what is wrong. */
    private static String checkValue(UnsafeBuffer out, int length, int id, int gen) {
        if (length != valueLength(id, gen)) {
            return "length " + length + ", expected " + valueLength(id, gen);
        }
        if (out.getLong(0, ByteOrder.LITTLE_ENDIAN) != checksum(id, gen) || out.getInt(8, ByteOrder.LITTLE_ENDIAN) != id
            || out.getInt(12, ByteOrder.LITTLE_ENDIAN) != gen) {
            return "header of key " + out.getInt(8, ByteOrder.LITTLE_ENDIAN) + " gen " + out.getInt(12, ByteOrder.LITTLE_ENDIAN)
                + " checksum " + Long.toHexString(out.getLong(0, ByteOrder.LITTLE_ENDIAN)) + ", expected key " + id
                + " gen " + gen + " checksum " + Long.toHexString(checksum(id, gen)) + ", length " + length;
        }
        for (int i = 16; i < length; i++) {
            if (out.getByte(i) != fill(id, gen, i)) {
                return "byte " + i;
            }
        }
        return null;
    }

    private static long inlineValue(int id, int gen) {
        return checksum(id, gen) ^ id;   // never MISSING: checksum is non-negative
    }

    // ---------------------------------------------------------------------------------------------------------
    // Readers
    // ---------------------------------------------------------------------------------------------------------

    private void readLoop(boolean inline, long seed, Counts counts) {
        SplittableRandom random = new SplittableRandom(seed);
        UnsafeBuffer key = new UnsafeBuffer(new byte[64]);
        UnsafeBuffer out = new UnsafeBuffer(new byte[MAX_ENTRY + 64]);   // room for any racy length
        EpochDomain.Reader reader = epochs.reader();
        try {
            while (!stop.get()) {
                int id = randomKey(random);
                writeKey(key, id);
                long hash = keyHash(key, id, inline);
                int mode = random.nextInt(4);
                long v1;
                long v2;
                int length = 0;
                long bits = 0;
                int gen;
                boolean closed = false;
                reader.enter();
                try {
                    v1 = version.get();   // odd: a write is in progress; read anyway (racy), never validate
                    Segment segment = current.get();
                    try {
                        if (inline && mode < 2) {
                            bits = segment.optimisticGetLong(hash, MISSING);
                        } else if (mode == 3) {
                            length = segment.optimisticLookup(hash, key, 0, inline ? 8 : keyLength(id));
                        } else {
                            length = segment.optimisticGet(hash, key, 0, inline ? 8 : keyLength(id), out, 0);
                        }
                    } catch (IllegalStateException e) {
                        closed = true;     // documented: the segment was closed under us
                    }
                    gen = expected.get(id);
                    VarHandle.acquireFence();   // the reads above happen before the validating load (as StampedLock)
                    v2 = version.get();
                } finally {
                    reader.exit();
                }
                if ((v1 & 1) != 0 || v1 != v2) {
                    counts.discarded++;
                    if ((v1 & 1) != 0) {
                        counts.busy++;
                    }
                    if (closed) {
                        counts.closedExceptions++;
                    } else if (length == Segment.RETRY) {
                        counts.retries++;
                    }
                    continue;
                }
                if (closed) {
                    throw new AssertionError("IllegalStateException although no writer was active: the segment"
                        + " in use was open for the whole read");
                }
                counts.validated++;
                if (length == Segment.RETRY) {
                    throw new AssertionError("RETRY although no writer was active, key " + id);
                }
                String error = null;
                if (inline && mode < 2) {
                    long want = gen < 0 ? MISSING : inlineValue(id, gen);
                    if (bits != want) {
                        error = "getLong " + bits + ", expected " + want;
                    }
                } else if (mode == 3) {
                    if ((length >= 0) != (gen >= 0)) {
                        error = "lookup " + length;
                    }
                } else if (gen < 0) {
                    if (length != Segment.NOT_FOUND) {
                        error = "found an absent key (length " + length + ")";
                    }
                } else if (length < 0) {
                    error = "missed a present key";
                } else if (inline) {
                    if (length != 8 || out.getLong(0, ByteOrder.LITTLE_ENDIAN) != inlineValue(id, gen)) {
                        error = "value bits";
                    }
                } else {
                    error = checkValue(out, length, id, gen);
                }
                if (gen >= 0 && error == null) {
                    counts.validatedHits++;
                }
                if (error != null) {
                    throw new AssertionError("validated read of key " + id + " (generation " + gen + ") is wrong: "
                        + error);
                }
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
            stop.set(true);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Writer
    // ---------------------------------------------------------------------------------------------------------

    private static final class WriterStats {
        long mutations;
        long segments = 1;
        long clears;
        long growths;
        long largeEntries;
        /** Maintenance steps run after writes (chunks emptied under the readers, tables shrunk). */
        long maintenanceSteps;
        long relocatedBytes;
        long shrinks;
        OffHeapMemory lastMemory;
    }

    private void beginWrite() {
        version.incrementAndGet();   // odd: readers that overlap discard
    }

    private void endWrite() {
        version.incrementAndGet();
    }

    private WriterStats writeLoop(boolean inline, int opsPerRound, OffHeapMemory firstMemory) {
        WriterStats stats = new WriterStats();
        SplittableRandom random = new SplittableRandom(7);
        UnsafeBuffer key = new UnsafeBuffer(new byte[64]);
        UnsafeBuffer value = new UnsafeBuffer(new byte[MAX_ENTRY]);
        int[] gens = new int[KEYS];
        java.util.Arrays.fill(gens, -1);
        OffHeapMemory memory = firstMemory;
        long deadline = System.nanoTime() + MILLIS * 1_000_000L;
        int nextGen = 0;
        int round = 0;
        while (System.nanoTime() < deadline && !stop.get()) {
            Segment segment = current.get();
            for (int op = 0; op < opsPerRound && !stop.get() && ((op & 255) != 0 || System.nanoTime() < deadline);
                 op++) {
                int id = randomKey(random);
                writeKey(key, id);
                long hash = keyHash(key, id, inline);
                int keyLength = inline ? 8 : keyLength(id);
                int r = random.nextInt(10_000);
                // Phases within a round: grow (mostly puts), then shrink (mostly removes), then mixed.
                int phase = op * 3 / opsPerRound;
                int putShare = phase == 0 ? 8000 : phase == 1 ? 2500 : 5500;
                beginWrite();
                try {
                    if (r < putShare) {
                        int gen = nextGen++ & Integer.MAX_VALUE;
                        if (inline) {
                            segment.putLong(hash, inlineValue(id, gen));
                        } else {
                            writeValue(value, id, gen);
                            int length = valueLength(id, gen);
                            if (length > EntryArena.MAX_PACKED_BLOCK) {
                                stats.largeEntries++;
                            }
                            segment.put(hash, key, 0, keyLength, value, 0, length);
                        }
                        gens[id] = gen;
                        expected.set(id, gen);
                    } else if (r < 9999) {
                        int slot = segment.find(hash, key, 0, keyLength);
                        if (slot >= 0) {
                            segment.removeAt(slot);
                        }
                        gens[id] = -1;
                        expected.set(id, -1);
                    } else {
                        segment.clear();
                        stats.clears++;
                        for (int i = 0; i < KEYS; i++) {
                            gens[i] = -1;
                            expected.set(i, -1);
                        }
                    }
                    stats.mutations++;
                    if (segment.maintenanceDue()) {
                        segment.maintain();   // what the map does after a write: entries move under the readers
                        stats.maintenanceSteps++;
                    }
                } finally {
                    endWrite();
                }
                if ((op & 1023) == 0) {
                    Thread.yield();   // let readers see quiet moments too, so that some reads validate
                }
            }
            stats.growths += segment.stats().growths();
            stats.relocatedBytes += segment.stats().relocatedBytes();
            stats.shrinks += segment.stats().shrinks();
            verify(segment, inline, gens, key);
            // Replace the segment by a fresh one (growth starts again) and close the old one under the readers.
            round++;
            if (System.nanoTime() < deadline) {
                Segment old = segment;
                OffHeapMemory previousMemory = memory;
                memory = new OffHeapMemory(OffHeapMemory.UNLIMITED);
                // Short rounds (the close-racing variant) close the old segment while it is still the one readers
                // find, so they run into a closed segment; long rounds publish the new one first.
                boolean closeFirst = opsPerRound < 1000;
                beginWrite();
                try {
                    Segment fresh = newSegment(inline, memory);
                    if (!closeFirst) {
                        current.set(fresh);
                    }
                    java.util.Arrays.fill(gens, -1);
                    for (int i = 0; i < KEYS; i++) {
                        expected.set(i, -1);
                    }
                    if (round % 2 == 0) {
                        old.close();            // waits for the readers inside sections that might see it
                    } else {
                        old.release();
                        if (closeFirst) {
                            Thread.yield();     // readers meet the released segment
                        }
                        epochs.synchronize();
                    }
                    current.set(fresh);
                } finally {
                    endWrite();
                }
                assertEquals(0, previousMemory.usedBytes(), "memory of a closed segment with readers racing");
                assertEquals(0, previousMemory.liveAllocations());
                stats.segments++;
            }
        }
        stats.lastMemory = memory;
        return stats;
    }

    /**
     * The writer's own check at the end of a round: the segment's invariants hold and it holds exactly the
     * writer's model. Readers still race it (they only read).
     */
    private static void verify(Segment segment, boolean inline, int[] gens, UnsafeBuffer key) {
        segment.verifyInvariants();
        int live = 0;
        UnsafeBuffer out = new UnsafeBuffer(new byte[MAX_ENTRY]);
        for (int id = 0; id < KEYS; id++) {
            writeKey(key, id);
            long hash = keyHash(key, id, inline);
            int n = segment.optimisticGet(hash, key, 0, inline ? 8 : keyLength(id), out, 0);
            if (gens[id] < 0) {
                assertEquals(Segment.NOT_FOUND, n, "key " + id);
                continue;
            }
            live++;
            if (inline) {
                assertEquals(inlineValue(id, gens[id]), out.getLong(0, ByteOrder.LITTLE_ENDIAN));
            } else {
                assertEquals(null, checkValue(out, n, id, gens[id]), "key " + id);
            }
        }
        assertEquals(live, segment.size());
    }
}
