package io.starshard.offheap;

/**
 * Immutable descriptor of one off-heap table allocation: where it is and how big.
 *
 * <pre>
 *  address                         slotsAddress = address + capacity
 *  |                               |
 *  v                               v
 *  +-------------------------------+-------------------------------------------------+
 *  | control bytes: capacity x 1 B | slots: capacity x slotSize B (8-byte aligned)   |
 *  +-------------------------------+-------------------------------------------------+
 *  capacity = groups * 8; group g = control bytes [8g, 8g + 8) and slots [8g, 8g + 8)
 *
 *  control byte  see ControlBytes;   slot  see SlotDescriptor
 * </pre>
 *
 * <p>Why a descriptor object: readers load the segment's current table reference once and compute every
 * address from its final fields, so an address and the capacity it is checked against always come from the
 * same allocation, even while a writer publishes a grown table. The memory stays mapped until the
 * {@link EpochDomain} says no reader can hold this descriptor.
 */
final class Table {
    final long address;
    final int groups;
    final int capacity;
    final long slotsAddress;
    final int slotSize;
    final long bytes;
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

    private Table(long address, int groups, int slotSize) {
        this.address = address;
        this.groups = groups;
        this.capacity = groups * ControlBytes.GROUP_WIDTH;
        this.slotsAddress = address + capacity;
        this.slotSize = SlotDescriptor.checkSlotSize(slotSize);
        this.bytes = bytesFor(groups, slotSize);
        this.maxFill = groups * MAX_FILL_PER_GROUP;
    }

    static long bytesFor(int groups, int slotSize) {
        return (long) groups * ControlBytes.GROUP_WIDTH * (1 + slotSize);
    }

    /** Allocates a table with every control byte EMPTY; slot bytes are left uninitialised. */
    static Table allocate(OffHeapMemory memory, int groups, int slotSize) {
        final Table t = allocateUninitialised(memory, groups, slotSize);
        t.fillControl(0, t.capacity);
        return t;
    }

    /**
     * Allocates a table whose control bytes are left uninitialised: the caller sets them to EMPTY with
     * {@link #fillControl} (in chunks, over several writes) before the table is used or published.
     */
    static Table allocateUninitialised(OffHeapMemory memory, int groups, int slotSize) {
        if (groups < 1 || groups > ControlBytes.MAX_GROUPS) {
            throw new IllegalArgumentException("table groups must be 1.." + ControlBytes.MAX_GROUPS + ", was " + groups);
        }
        final long bytes = bytesFor(groups, slotSize);
        final long address = memory.allocate(bytes, "a segment table of " + groups * ControlBytes.GROUP_WIDTH
            + " slots");
        return new Table(address, groups, slotSize);
    }

    /** Sets control bytes {@code [from, to)} EMPTY; both within {@code [0, capacity]}. */
    void fillControl(long from, long to) {
        if (from < 0 || to > capacity || from > to) {
            throw new IndexOutOfBoundsException("control bytes [" + from + ", " + to + ") of a table of " + capacity);
        }
        MemoryAccess.fill(address + from, to - from, ControlBytes.EMPTY);
    }

    /**
     * Writes one zero byte in every 4 KiB page of the table's bytes {@code [from, to)} that lie in the slot
     * region, so that the operating system maps those pages now rather than on a writer's first use. Slot bytes
     * mean nothing until their control byte is FULL, so the zeros change nothing.
     */
    void touchSlotPages(long from, long to) {
        final long start = Math.max(from, capacity);
        if (start >= to) {
            return;
        }
        final long firstPage = (address + start + PAGE_BYTES - 1) & -PAGE_BYTES;
        for (long page = firstPage; page < address + to; page += PAGE_BYTES) {
            MemoryAccess.putByte(page, (byte) 0);
        }
    }

    /** The operating system's usual page size: the granularity {@link #touchSlotPages} works in. */
    static final long PAGE_BYTES = 4096;

    long controlWordAddress(int group) {
        return address + ((long) group << ControlBytes.GROUP_SHIFT);
    }

    long slotAddress(int slot) {
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
        return slotsAddress + ((long) group << SlotDescriptor.SLOT16_GROUP_SHIFT);
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
        return slotsAddress + ((long) group << SlotDescriptor.SLOT16_GROUP_SHIFT)
            + ((long) Long.numberOfTrailingZeros(match) << SlotDescriptor.SLOT16_MATCH_SHIFT)
            - SlotDescriptor.SLOT16_MATCH_BIAS;
    }

    byte control(int slot) {
        return MemoryAccess.getByte(address + slot);
    }

    void setControl(int slot, byte value) {
        MemoryAccess.putByte(address + slot, value);
    }

    /** Groups needed to hold {@code entries} below the maximum fill. */
    static int groupsFor(long entries) {
        long groups = (entries + MAX_FILL_PER_GROUP - 1) / MAX_FILL_PER_GROUP;
        return (int) Math.max(1, Math.min(ControlBytes.MAX_GROUPS, groups));
    }
}
