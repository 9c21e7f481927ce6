package io.starshard.offheap;

import org.agrona.ExpandableArrayBuffer;

/**
 * The invariant check of a {@link Segment} ({@link Segment#verifyInvariants()}), kept apart from the segment
 * because no operation needs it: tests and debugging do.
 *
 * <p>Checked: every control byte is FULL, EMPTY or DELETED; a FULL byte is the tag of its slot's stored hash; a
 * FULL slot lies on the probe path of its hash (no group between its home group and its own has an EMPTY byte),
 * and a lookup of its key finds exactly this slot (no key is stored twice); FULL bytes number the segment's size,
 * DELETED bytes its tombstones, together at most the fill limit. Inline: the stored hash is {@code hashFixed} of
 * a key of the spec's width (the unhash round-trips) and the value's padding is zero. Indirect: every reference
 * names a well-formed entry inside a live chunk (below the carved end of the chunk being filled), no block is
 * referenced twice, every chunk's live-byte count equals the blocks its entries take (so a leaked or doubly freed
 * entry shows), no closed chunk is kept empty, and the live-entry, reserved and packed byte counts equal the sums
 * over the chunks ({@link EntryArena.Census}).
 */
final class SegmentVerifier {
    static void verify(Segment segment, Table t, Table draining, EntryArena arena, int size, int tombstones) {
        new SegmentVerifier(segment.spec(), segment).run(t, draining, arena, size, tombstones);
    }

    private final SegmentSpec spec;
    private final Segment segment;
    private final boolean inline;
    private final int keyWidth;
    private final int valueWidth;
    private final int slotSize;

    private SegmentVerifier(SegmentSpec spec, Segment segment) {
        this.spec = spec;
        this.segment = segment;
        this.inline = spec.isInline();
        this.keyWidth = spec.keyWidth();
        this.valueWidth = spec.valueWidth();
        this.slotSize = spec.slotSize();
    }

    private void run(Table t, Table draining, EntryArena arena, int size, int tombstones) {
        final EntryArena.Census census = inline ? null : arena.census();
        final int[] counts = new int[2];
        verifyControlBytes(t, census, counts);
        final int full = counts[0];
        final int deleted = counts[1];
        final int[] oldCounts = new int[2];
        if (draining != null) {
            verifyControlBytes(draining, census, oldCounts);   // its DELETED bytes are moved entries: no count
        }
        if (full + oldCounts[0] != size) {
            throw corrupted(full + " control bytes are FULL" + (draining == null ? "" : " (and " + oldCounts[0]
                + " in the draining table)") + ", but size() is " + size);
        }
        if (deleted != tombstones) {
            throw corrupted(deleted + " control bytes are DELETED, but the tombstone count is " + tombstones);
        }
        if (full + deleted > t.maxFill) {
            throw corrupted(full + " FULL and " + deleted + " DELETED slots exceed the fill limit of " + t.maxFill);
        }
        if (census != null) {
            final String problem = census.finish();
            if (problem != null) {
                throw corrupted("arena: " + problem);
            }
        }
        verifyLookupsFindTheirSlots(t);
    }

    /** Checks every control byte of {@code t} and every FULL slot; counts FULL in [0] and DELETED in [1]. */
    private void verifyControlBytes(Table t, EntryArena.Census census, int[] counts) {
        for (int slot = 0; slot < t.capacity; slot++) {
            final byte control = t.control(slot);
            if (control == ControlBytes.EMPTY) {
                continue;
            }
            if (control == ControlBytes.DELETED) {
                counts[1]++;
            } else if (ControlBytes.isFull(control)) {
                counts[0]++;
                verifyFullSlot(t, slot, control, census);
            } else {
                throw corrupted("slot " + slot + " has control byte 0x" + Integer.toHexString(control & 0xFF)
                    + ", which is neither FULL, EMPTY nor DELETED");
            }
        }
    }

    /** The checks of one FULL slot that need nothing but the slot, its control byte and its probe path. */
    private void verifyFullSlot(Table t, int slot, byte control, EntryArena.Census census) {
        final long slotAddress = t.slotAddress(slot);
        final long hash = MemoryAccess.getLong(slotAddress + SlotDescriptor.HASH_OFFSET);
        final String where = "slot " + slot + " (hash " + Long.toHexString(hash) + ")";
        if (ControlBytes.tag(hash) != control) {
            throw corrupted(where + " has control byte 0x" + Integer.toHexString(control) + ", but the tag of its hash"
                + " is 0x" + Integer.toHexString(ControlBytes.tag(hash)));
        }
        if (inline) {
            final long keyBits = spec.hasher().unhashFixed(hash);
            if ((keyWidth < Long.BYTES && keyBits >>> (keyWidth * Byte.SIZE) != 0)
                || spec.hasher().hashFixed(keyBits) != hash) {
                throw corrupted(where + " holds no hashFixed of a " + keyWidth + "-byte key (its unhash is "
                    + Long.toHexString(keyBits) + ")");
            }
            for (int i = valueWidth; i < slotSize - SlotDescriptor.VALUE_OFFSET; i++) {
                if (MemoryAccess.getByte(slotAddress + SlotDescriptor.VALUE_OFFSET + i) != 0) {
                    throw corrupted(where + ": byte " + i + " of its value area, past the " + valueWidth
                        + "-byte value, is not zero");
                }
            }
        } else {
            final String problem = census.addLive(MemoryAccess.getLong(slotAddress + SlotDescriptor.REFERENCE_OFFSET));
            if (problem != null) {
                throw corrupted(where + ": " + problem);
            }
        }
        final int home = ControlBytes.homeGroup(hash, t.groups);
        final int own = ControlBytes.groupOf(slot);
        for (int group = home; group != own; group = group + 1 == t.groups ? 0 : group + 1) {
            if (ControlBytes.matchEmpty(MemoryAccess.getLong(t.controlWordAddress(group))) != 0) {
                throw corrupted(where + " is in group " + own + ", but group " + group + " on the probe path from"
                    + " its home group " + home + " has an EMPTY byte: lookups stop there");
            }
        }
    }

    /** A lookup of each FULL slot's key finds that slot: reachable, and stored once. */
    private void verifyLookupsFindTheirSlots(Table t) {
        final ExpandableArrayBuffer key = new ExpandableArrayBuffer(64);
        for (int slot = segment.nextFull(0); slot >= 0; slot = segment.nextFull(slot + 1)) {
            final int keyLength = inline ? 0 : segment.readKey(slot, key, 0);
            final long hash = segment.hashAt(slot);
            final int found = segment.find(hash, key, 0, keyLength);
            if (found != slot) {
                throw corrupted("a lookup of the key of slot " + slot + " (hash " + Long.toHexString(hash) + ") "
                    + (found >= 0 ? "finds slot " + found + ": the key is stored twice" : "returns " + found));
            }
        }
    }

    private static IllegalStateException corrupted(String what) {
        return new IllegalStateException("segment memory is inconsistent: " + what);
    }
}
