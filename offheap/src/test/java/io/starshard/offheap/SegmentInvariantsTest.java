package io.starshard.offheap;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Segment#verifyInvariants} notices each kind of damage it claims to check: every test builds a healthy
 * segment (which must pass), breaks exactly one thing in its memory, and expects the violation to be named.
 * The healthy side is also covered by the model, torture, layout and memory tests, which call it after their
 * operations.
 */
class SegmentInvariantsTest {
    private static final KeyHasher HASHER = new KeyHasher(0x5EED);
    private final EpochDomain epochs = new EpochDomain();
    private final OffHeapMemory memory = OffHeapMemory.unlimited();
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[8]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[64]);

    @AfterEach
    void allMemoryIsReturned() {
        assertEquals(0, memory.usedBytes());
    }

    /** An inline segment of {@code keys} entries with keys 1..keys; returns it open. */
    private Segment inline(int keyWidth, int valueWidth, int initialEntries, int keys) {
        Segment s = new Segment(SegmentSpec.inline(keyWidth, valueWidth, HASHER).withInitialEntries(initialEntries),
            memory, epochs);
        for (int k = 1; k <= keys; k++) {
            key.putLong(0, k, ByteOrder.LITTLE_ENDIAN);
            value.setMemory(0, valueWidth, (byte) k);
            assertTrue(s.put(HASHER.hashFixed(key, 0, keyWidth), key, 0, keyWidth, value, 0, valueWidth));
        }
        return s;
    }

    /** An indirect segment of {@code keys} entries of 4-byte keys and 20-byte values; returns it open. */
    private Segment indirect(int initialEntries, int keys) {
        Segment s = new Segment(SegmentSpec.indirect(100).withInitialEntries(initialEntries), memory, epochs);
        for (int k = 1; k <= keys; k++) {
            key.putInt(0, k, ByteOrder.LITTLE_ENDIAN);
            value.setMemory(0, 20, (byte) k);
            assertTrue(s.put(HASHER.hash(key, 0, 4), key, 0, 4, value, 0, 20));
        }
        return s;
    }

    /** Checks that {@code s} passes, applies {@code damage} to its table, and expects a violation naming {@code expected}. */
    private void assertDetected(Segment s, Consumer<Table> damage, String... expected) {
        try (s) {
            s.verifyInvariants();
            damage.accept(s.tableForTests());
            IllegalStateException e = assertThrows(IllegalStateException.class, s::verifyInvariants);
            for (String part : expected) {
                assertTrue(e.getMessage().contains(part), "expected '" + part + "' in: " + e.getMessage());
            }
            // Nothing to undo: close frees through the table's and the arena's own bookkeeping, not slot contents.
        }
    }

    private static long hashAt(Table t, int slot) {
        return MemoryAccess.getLong(t.slotAddress(slot) + SlotDescriptor.HASH_OFFSET);
    }

    /** The first FULL slot of group {@code group}, or -1. */
    private static int fullSlotIn(Table t, int group) {
        for (int slot = group * ControlBytes.GROUP_WIDTH; slot < (group + 1) * ControlBytes.GROUP_WIDTH; slot++) {
            if (ControlBytes.isFull(t.control(slot))) {
                return slot;
            }
        }
        return -1;
    }

    private static int firstFull(Table t) {
        for (int slot = 0; slot < t.capacity; slot++) {
            if (ControlBytes.isFull(t.control(slot))) {
                return slot;
            }
        }
        throw new AssertionError("no FULL slot");
    }

    private static int firstEmpty(Table t, int fromGroup) {
        for (int slot = fromGroup * ControlBytes.GROUP_WIDTH; slot < t.capacity; slot++) {
            if (t.control(slot) == ControlBytes.EMPTY) {
                return slot;
            }
        }
        throw new AssertionError("no EMPTY slot");
    }

    @Test
    void aControlByteThatIsNotTheTagOfItsHash() {
        assertDetected(inline(8, 8, 0, 5), t -> {
            int slot = firstFull(t);
            t.setControl(slot, (byte) ((t.control(slot) + 1) & 0x7F));
        }, "slot ", "tag of its hash");
    }

    @Test
    void aControlByteThatIsNoStateAtAll() {
        assertDetected(inline(8, 8, 0, 5), t -> t.setControl(firstEmpty(t, 0), (byte) 0x90),
            "control byte 0x90", "neither FULL, EMPTY nor DELETED");
    }

    @Test
    void moreFullControlBytesThanEntries() {
        // One group: every entry is homed in it, so an extra FULL byte breaks no probe path.
        assertDetected(inline(8, 8, 0, 4), t -> {
            int from = firstFull(t);
            int to = firstEmpty(t, 0);
            MemoryAccess.copy(t.slotAddress(from), t.slotAddress(to), t.slotSize);
            MemoryAccess.putLong(t.slotAddress(to) + SlotDescriptor.HASH_OFFSET, HASHER.hashFixed(1000));
            t.setControl(to, ControlBytes.tag(HASHER.hashFixed(1000)));
        }, "5 control bytes are FULL, but size() is 4");
    }

    @Test
    void aTombstoneThatIsNotCounted() {
        assertDetected(inline(8, 8, 0, 4), t -> t.setControl(firstEmpty(t, 0), ControlBytes.DELETED),
            "1 control bytes are DELETED, but the tombstone count is 0");
    }

    @Test
    void anEntryBeyondAnEmptyGroupOfItsProbePath() {
        // Ten groups, one entry: move it from its home group into the next group, past the home group's EMPTYs.
        assertDetected(inline(8, 8, 60, 1), t -> {
            int from = firstFull(t);
            int home = ControlBytes.groupOf(from);
            int to = firstEmpty(t, home + 1 == t.groups ? 0 : home + 1);
            MemoryAccess.copy(t.slotAddress(from), t.slotAddress(to), t.slotSize);
            t.setControl(to, t.control(from));
            t.setControl(from, ControlBytes.EMPTY);
        }, "has an EMPTY byte: lookups stop there");
    }

    @Test
    void aKeyStoredTwice() {
        // Two entries of one group: give the second the first one's hash (and tag), which for the inline format
        // is the first one's key.
        assertDetected(inline(8, 8, 0, 2), t -> {
            int first = firstFull(t);
            int second = first + 1;
            while (!ControlBytes.isFull(t.control(second))) {
                second++;
            }
            MemoryAccess.putLong(t.slotAddress(second) + SlotDescriptor.HASH_OFFSET, hashAt(t, first));
            t.setControl(second, t.control(first));
        }, "finds slot ", "stored twice");
    }

    @Test
    void anInlineHashThatIsNoKeyOfTheSpecWidth() {
        // 4-byte keys: a hash is valid only if its unhash fits 32 bits. Keep bits 0..31 (tag, home group) and
        // change the upper half, so that only the round trip can notice.
        Segment s = inline(4, 8, 0, 3);
        long forged = (hashAt(s.tableForTests(), firstFull(s.tableForTests())) & 0xFFFF_FFFFL) | 0x1234_5678L << 32;
        assertTrue(HASHER.unhashFixed(forged) >>> 32 != 0, "the forged hash must not be a 4-byte key's");
        assertDetected(s, t -> MemoryAccess.putLong(t.slotAddress(firstFull(t)) + SlotDescriptor.HASH_OFFSET, forged),
            "holds no hashFixed of a 4-byte key");
    }

    @Test
    void nonZeroPaddingAfterANarrowInlineValue() {
        assertDetected(inline(8, 5, 0, 3), t -> MemoryAccess.putByte(
            t.slotAddress(firstFull(t)) + SlotDescriptor.VALUE_OFFSET + 6, (byte) 1), "byte 6 of its value area");
    }

    @Test
    void anEntryReferencedByTwoSlots() {
        assertDetected(indirect(0, 3), t -> {
            int first = firstFull(t);
            int second = first + 1;
            while (!ControlBytes.isFull(t.control(second))) {
                second++;
            }
            long ref = MemoryAccess.getLong(t.slotAddress(first) + SlotDescriptor.REFERENCE_OFFSET);
            MemoryAccess.putLong(t.slotAddress(second) + SlotDescriptor.REFERENCE_OFFSET, ref);
        }, "overlaps a block counted before", "a reference held twice?");
    }

    @Test
    void aReferenceToNoChunk() {
        assertDetected(indirect(0, 3), t -> MemoryAccess.putLong(
            t.slotAddress(firstFull(t)) + SlotDescriptor.REFERENCE_OFFSET, EntryDescriptor.ref(99, 0)),
            "chunk 99", "names no live chunk");
    }

    @Test
    void aReferenceIntoTheMiddleOfAnEntry() {
        assertDetected(indirect(0, 3), t -> {
            long address = t.slotAddress(firstFull(t)) + SlotDescriptor.REFERENCE_OFFSET;
            MemoryAccess.putLong(address, MemoryAccess.getLong(address) + 4);
        }, "is not an aligned header");
    }

    @Test
    void anEntryHeaderWhoseValueRunsPastWhatWasCarved() {
        // Three 32-byte entries carved from the open chunk: an entry of 8 + 4 + 88 bytes ends past the carved 96.
        Segment s = indirect(0, 3);
        assertDetected(s, t -> MemoryAccess.putInt(entryAddress(s, t) + EntryDescriptor.VALUE_LENGTH_OFFSET, 88),
            "ends past 96");
    }

    @Test
    void liveEntryBytesThatDisagreeWithTheEntries() {
        // 8 + 4 + 12 = 24 bytes still fit the 32-byte block (and use more than half): only the sum is wrong.
        Segment s = indirect(0, 3);
        assertDetected(s, t -> MemoryAccess.putInt(entryAddress(s, t) + EntryDescriptor.VALUE_LENGTH_OFFSET, 12),
            "live entries hold 88 bytes, the arena accounts 96");
    }

    /** The address of the entry of the first FULL slot, through the segment's arena. */
    private static long entryAddress(Segment s, Table t) {
        long ref = MemoryAccess.getLong(t.slotAddress(firstFull(t)) + SlotDescriptor.REFERENCE_OFFSET);
        return s.arenaForTests().trustedAddress(ref);
    }
}
