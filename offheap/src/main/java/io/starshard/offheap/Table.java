package io.starshard.offheap;

/**
 * Immutable descriptor of one off-heap table allocation: where it is, how big, and how it is laid out.
 *
 * <pre>
 *  SEPARATE                        slotsAddress = address + capacity
 *  |                               |
 *  v                               v
 *  +-------------------------------+-------------------------------------------------+
 *  | control bytes: capacity x 1 B | slots: capacity x slotSize B (8-byte aligned)   |
 *  +-------------------------------+-------------------------------------------------+
 *  capacity = groups * 8; group g = control bytes [8g, 8g + 8) and slots [8g, 8g + 8)
 *
 *  INTERLEAVED (16-byte slots): group g = 128 bytes at address + 128 g, see SlotLayout
 *  capacity = groups * 8 slot numbers, of which lane 7 of each group is never used
 *
 *  control byte  see ControlBytes;   slot  see SlotDescriptor
 * </pre>
 *
 * <p>Every address is computed here: the control word of a group, the control byte of a slot, a slot's hash,
 * and its payload at {@link #payloadOffset} after it. The rest of the segment does not know which layout a table
 * has, except that a free slot is looked for in {@link #freeLanes} only.
 *
 * <p>Why a descriptor object: readers load the segment's current table reference once and compute every
 * address from its final fields, so an address and the capacity it is checked against always come from the
 * same allocation, even while a writer publishes a grown table. The memory stays mapped until the
 * {@link EpochDomain} says no reader can hold this descriptor.
 */
final class Table {
    /** Bytes of an interleaved group: a control word, 7 hashes, 7 payloads, 8 bytes of padding. */
    static final int INTERLEAVED_GROUP_BYTES = 128;
    /** {@code log2(INTERLEAVED_GROUP_BYTES)}. */
    static final int INTERLEAVED_GROUP_SHIFT = 7;
    /** Where an interleaved group's hashes start: after its control word. */
    static final int INTERLEAVED_HASHES_OFFSET = Long.BYTES;
    /** How far an interleaved slot's payload lies after its hash: the 7 hashes. */
    static final int INTERLEAVED_PAYLOAD_OFFSET = 7 * Long.BYTES;
    /** Where the padding of an interleaved group lies: written when a page is touched, read never. */
    private static final int INTERLEAVED_PAD_OFFSET = INTERLEAVED_HASHES_OFFSET + 2 * INTERLEAVED_PAYLOAD_OFFSET;
    /** The control word of an empty interleaved group: lanes 0..6 EMPTY, lane 7 DELETED for good. */
    static final long INTERLEAVED_EMPTY_WORD = ControlBytes.emptyWordWithLastLane(ControlBytes.DELETED);
    /** {@link ControlBytes#matchEmptyOrDeleted} flags of the lanes that hold slots in an interleaved group. */
    private static final long INTERLEAVED_LANES = ControlBytes.HIGH_BITS >>> Byte.SIZE;

    final long address;
    final int groups;
    final int capacity;
    final long slotsAddress;
    final int slotSize;
    final long bytes;
    /** Whether the groups are {@link SlotLayout#INTERLEAVED}. */
    final boolean interleaved;
    /** From a slot's address (its hash) to its payload: the inline value or the entry reference. */
    final int payloadOffset;
    /** The lanes of a control word that may hold a slot: every lane, or all but lane 7 when interleaved. */
    final long freeLanes;
    /**
     * Where the control bytes end for {@link #fillControl}: the capacity for SEPARATE, the whole table for
     * INTERLEAVED (its control words are spread over it).
     */
    final long controlEnd;
    /**
     * Slots per group of eight that may be FULL or DELETED before the table must grow or be cleaned: a maximum
     * load of 3/4. Why not SwissTable's 7/8: at 7/8 about 12 % of the keys do not fit in their home group (6 %
     * at 3/4, by simulation), and each of them costs a lookup a mispredicted branch and a second control word;
     * the lower load is faster in cache, for 17 B per slot / 0.75 = 22.7 bytes per presized {@code long -> long}
     * entry instead of 19.4.
     */
    static final int MAX_FILL_PER_GROUP = 6;

    /** Most slots that may be FULL or DELETED before the table must grow or be cleaned: 3/4 of capacity. */
    final int maxFill;

    private Table(long address, int groups, int slotSize, SlotLayout layout) {
        this.address = address;
        this.groups = groups;
        this.capacity = groups * ControlBytes.GROUP_WIDTH;
        this.slotSize = SlotDescriptor.checkSlotSize(slotSize);
        this.interleaved = layout == SlotLayout.INTERLEAVED;
        this.slotsAddress = interleaved ? address + INTERLEAVED_HASHES_OFFSET : address + capacity;
        this.bytes = bytesFor(groups, slotSize, layout);
        this.maxFill = groups * MAX_FILL_PER_GROUP;
        this.payloadOffset = interleaved ? INTERLEAVED_PAYLOAD_OFFSET : SlotDescriptor.PAYLOAD_OFFSET;
        this.freeLanes = interleaved ? INTERLEAVED_LANES : ControlBytes.HIGH_BITS;
        this.controlEnd = interleaved ? bytes : capacity;
    }

    static long bytesFor(int groups, int slotSize) {
        return bytesFor(groups, slotSize, SlotLayout.SEPARATE);
    }

    static long bytesFor(int groups, int slotSize, SlotLayout layout) {
        return layout == SlotLayout.INTERLEAVED ? (long) groups * INTERLEAVED_GROUP_BYTES
            : (long) groups * ControlBytes.GROUP_WIDTH * (1 + slotSize);
    }

    /** A {@link SlotLayout#SEPARATE} table with every control byte EMPTY; slot bytes are left uninitialised. */
    static Table allocate(OffHeapMemory memory, int groups, int slotSize) {
        return allocate(memory, groups, slotSize, SlotLayout.SEPARATE);
    }

    /** Allocates a table with every control byte EMPTY; slot bytes are left uninitialised. */
    static Table allocate(OffHeapMemory memory, int groups, int slotSize, SlotLayout layout) {
        final Table t = allocateUninitialised(memory, groups, slotSize, layout);
        t.fillControl(0, t.controlEnd);
        return t;
    }

    /**
     * Allocates a table whose control bytes are left uninitialised: the caller sets them to EMPTY with
     * {@link #fillControl} (in chunks, over several writes) before the table is used or published.
     */
    static Table allocateUninitialised(OffHeapMemory memory, int groups, int slotSize, SlotLayout layout) {
        if (groups < 1 || groups > ControlBytes.MAX_GROUPS) {
            throw new IllegalArgumentException("table groups must be 1.." + ControlBytes.MAX_GROUPS + ", was " + groups);
        }
        if (layout == SlotLayout.INTERLEAVED && slotSize != SlotDescriptor.SLOT16_BYTES) {
            throw new IllegalArgumentException("the interleaved layout holds 16-byte slots only, not " + slotSize);
        }
        final long bytes = bytesFor(groups, slotSize, layout);
        final long address = memory.allocate(bytes, "a segment table of " + groups * ControlBytes.GROUP_WIDTH
            + " slots");
        return new Table(address, groups, slotSize, layout);
    }

    /**
     * Sets the control bytes that lie in the table's bytes {@code [from, to)} EMPTY (both within
     * {@code [0, controlEnd]}). SEPARATE: exactly those bytes. INTERLEAVED: the control word of every group that
     * starts in the range, lane 7 DELETED.
     */
    void fillControl(long from, long to) {
        if (from < 0 || to > controlEnd || from > to) {
            throw new IndexOutOfBoundsException("control bytes [" + from + ", " + to + ") of a table whose control"
                + " bytes end at " + controlEnd);
        }
        if (!interleaved) {
            MemoryAccess.fill(address + from, to - from, ControlBytes.EMPTY);
            return;
        }
        final long first = (from + INTERLEAVED_GROUP_BYTES - 1) >>> INTERLEAVED_GROUP_SHIFT;
        final long end = (to + INTERLEAVED_GROUP_BYTES - 1) >>> INTERLEAVED_GROUP_SHIFT;
        for (long g = first; g < end; g++) {
            MemoryAccess.putLong(address + (g << INTERLEAVED_GROUP_SHIFT), INTERLEAVED_EMPTY_WORD);
        }
    }

    /**
     * Writes one zero byte in every 4 KiB page of the table's bytes {@code [from, to)} that holds no control
     * byte, so that the operating system maps those pages now rather than on a writer's first use. SEPARATE: the
     * first byte of each page of the slot region (slot bytes mean nothing until their control byte is FULL).
     * INTERLEAVED: nothing; {@link #fillControl} writes a control word in every group, so in every page.
     */
    void touchSlotPages(long from, long to) {
        final long start = Math.max(from, capacity);
        if (interleaved || start >= to) {
            return;
        }
        final long firstPage = (address + start + PAGE_BYTES - 1) & -PAGE_BYTES;
        for (long page = firstPage; page < address + to; page += PAGE_BYTES) {
            MemoryAccess.putByte(page, (byte) 0);
        }
    }

    /**
     * Maps every page of the table now (for a segment that is about to receive many entries under a lock): writes
     * a zero byte where no control byte lies, the slot region's pages for SEPARATE, each page's first group's
     * padding for INTERLEAVED.
     */
    void touchAllPages() {
        if (!interleaved) {
            touchSlotPages(0, bytes);
            return;
        }
        for (long page = 0; page < bytes; page += PAGE_BYTES) {
            MemoryAccess.putByte(address + page + INTERLEAVED_PAD_OFFSET, (byte) 0);
        }
    }

    /** The operating system's usual page size: the granularity {@link #touchSlotPages} works in. */
    static final long PAGE_BYTES = 4096;

    long controlWordAddress(int group) {
        return interleaved ? address + ((long) group << INTERLEAVED_GROUP_SHIFT)
            : address + ((long) group << ControlBytes.GROUP_SHIFT);
    }

    /** Address of a slot: of its stored hash; its payload is {@link #payloadOffset} further. */
    long slotAddress(int slot) {
        if (interleaved) {
            return address + ((long) ControlBytes.groupOf(slot) << INTERLEAVED_GROUP_SHIFT) + INTERLEAVED_HASHES_OFFSET
                + ((long) (slot & (ControlBytes.GROUP_WIDTH - 1)) << 3);
        }
        return slotsAddress + (long) slot * slotSize;
    }

    /**
     * Address of the first of the 8 slots of {@code group} in a table of 16-byte slots. The group's slots end
     * {@link SlotDescriptor#SLOT16_GROUP_BYTES} later, inside the table for every {@code group < groups}.
     */
    long slot16GroupAddress(int group) {
        if (Checks.ENABLED && (slotSize != SlotDescriptor.SLOT16_BYTES || group < 0 || group >= groups)) {
            throw new IllegalStateException("slot16GroupAddress(" + group + ") on a table of " + groups + " groups of "
                + slotSize + "-byte slots");
        }
        return interleaved ? address + ((long) group << INTERLEAVED_GROUP_SHIFT)
            : slotsAddress + ((long) group << SlotDescriptor.SLOT16_GROUP_SHIFT);
    }

    /**
     * {@link #slotAddress} of the slot flagged by the lowest set bit of a {@link ControlBytes#matchTag} result in
     * {@code group}, for a table whose slots are known to be 16 bytes (indirect slots, and inline slots with a
     * value of 1..8 bytes). Why not {@code slotAddress}: no multiply by {@link #slotSize}, and a form that needs
     * one addressing mode after the trailing-zero count ({@link SlotDescriptor#SLOT16_MATCH_SHIFT}). Both shorten
     * the step from the control-word match to the slot load.
     */
    long slot16AddressOfMatch(int group, long match) {
        if (Checks.ENABLED && (slotSize != SlotDescriptor.SLOT16_BYTES || match == 0
            || (match & ~ControlBytes.HIGH_BITS) != 0)) {
            throw new IllegalStateException("slot16AddressOfMatch(" + group + ", " + Long.toHexString(match)
                + ") on a table of " + slotSize + "-byte slots");
        }
        if (interleaved) {
            // The flag of lane i is bit 8i + 7; the lane's hash is at 8 + 8i = (8i + 7) + 1 from the group.
            return address + ((long) group << INTERLEAVED_GROUP_SHIFT) + Long.numberOfTrailingZeros(match) + 1;
        }
        return slotsAddress + ((long) group << SlotDescriptor.SLOT16_GROUP_SHIFT)
            + ((long) Long.numberOfTrailingZeros(match) << SlotDescriptor.SLOT16_MATCH_SHIFT)
            - SlotDescriptor.SLOT16_MATCH_BIAS;
    }

    private long controlAddress(int slot) {
        return interleaved ? address + ((long) ControlBytes.groupOf(slot) << INTERLEAVED_GROUP_SHIFT)
            + (slot & (ControlBytes.GROUP_WIDTH - 1)) : address + slot;
    }

    byte control(int slot) {
        return MemoryAccess.getByte(controlAddress(slot));
    }

    void setControl(int slot, byte value) {
        MemoryAccess.putByte(controlAddress(slot), value);
    }

    /** Whether slot number {@code slot} can hold an entry: not lane 7 of an interleaved group. */
    boolean isSlot(int slot) {
        return !interleaved || (slot & (ControlBytes.GROUP_WIDTH - 1)) != ControlBytes.GROUP_WIDTH - 1;
    }

    /** Copies the hash and payload of slot {@code from} of this table to slot {@code to} of {@code target}. */
    void copySlot(int from, Table target, int to) {
        final long source = slotAddress(from);
        final long destination = target.slotAddress(to);
        if (interleaved || target.interleaved) {
            MemoryAccess.putLong(destination, MemoryAccess.getLong(source));
            MemoryAccess.copy(source + payloadOffset, destination + target.payloadOffset, slotSize - Long.BYTES);
        } else {
            MemoryAccess.copy(source, destination, slotSize);
        }
    }

    /** Groups needed to hold {@code entries} below the maximum fill. */
    static int groupsFor(long entries) {
        long groups = (entries + MAX_FILL_PER_GROUP - 1) / MAX_FILL_PER_GROUP;
        return (int) Math.max(1, Math.min(ControlBytes.MAX_GROUPS, groups));
    }
}
