package io.starshard.offheap;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * One shard's storage: an open-addressing hash table in off-heap memory, mapping {@code (hash, key bytes)}
 * to value bytes. It knows nothing about Java objects or locks.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Layout.</b> A {@link Table} of control bytes and slots (SwissTable style, see {@link ControlBytes}),
 *       in one of two slot formats chosen by the {@link SegmentSpec}: inline (hash and value in the slot) or
 *       indirect (hash and a reference into an {@link EntryArena}). The byte layouts are defined once each:
 *       slots in {@link SlotDescriptor}, arena entries in {@link EntryDescriptor}, exported records in
 *       {@link RecordDescriptor}.</li>
 *   <li><b>Probing.</b> The home group comes from hash bits 7..31 by multiply-shift, so the group count need
 *       not be a power of two; groups are probed linearly. A probe stops at the first group with an EMPTY
 *       byte, or after visiting every group. One loop, {@link #probe}, serves every lookup; the inline
 *       {@link #optimisticGetLong} has its own, {@link #probeLong}, shaped for that one case (see its notes).</li>
 *   <li><b>Growth.</b> When FULL plus DELETED slots would pass 3/4 of the capacity
 *       ({@link Table#MAX_FILL_PER_GROUP}), the next table (twice the size if live entries fill more than half of
 *       the limit, otherwise the same size, which drops the tombstones) becomes the table and the old one drains
 *       into it a few groups per insert, by stored hash (no key is rehashed or decoded); {@link TableGrowth}
 *       prepares the next table ahead, a share per insert, so no single write pays for a whole table. While a
 *       table drains, lookups try the table, then the draining one. A drained table is retired to the
 *       {@link EpochDomain}.</li>
 *   <li><b>Removal.</b> A removed slot becomes EMPTY if its group still has an EMPTY byte (then no probe ever
 *       passed through the group), otherwise a tombstone.</li>
 *   <li><b>Failure atomicity.</b> Every allocation a write needs (a bigger table, an arena block) is made
 *       before anything is modified; if the budget refuses, the segment is unchanged.</li>
 * </ul>
 *
 * <h2>Concurrency</h2>
 * Mutating methods and the slot accessors ({@link #find}, {@link #readValue}, ...) require exclusive
 * access: the owner's write lock (or read lock, for the read-only ones). The <em>racy readers</em>
 * {@link #optimisticGet}, {@link #optimisticGetLong} and {@link #optimisticLookup} may run concurrently with a
 * writer, inside an {@link EpochDomain.Reader} section: they never fault, may return wrong data or
 * {@link #RETRY}, and the caller must validate (for example with a {@code StampedLock} stamp) before trusting the
 * result.
 */
public final class Segment implements AutoCloseable {
    /** A lookup found no entry. */
    public static final int NOT_FOUND = -1;
    /** A racy read saw memory that a writer was changing; validate and retry. Never returned under the lock. */
    public static final int RETRY = -2;
    /**
     * Slot numbers with this bit set name a slot of the table being drained during a growth ({@link #find},
     * {@link #nextFull}, and every method that takes a slot accept them). A table has at most 2^28 slots.
     */
    public static final int DRAINING_SLOT = 1 << 30;

    private final SegmentSpec spec;
    private final boolean inline;
    private final int slotSize;
    private final int keyWidth;
    private final int valueWidth;
    /**
     * Inline slots with a value of 1..8 bytes: 16-byte slots that {@link #optimisticGetLong} reads in its own probe.
     * Derivable from {@code inline} and {@code valueWidth}, but kept as one field so that {@code getLong}'s
     * dispatch is one load and one branch.
     */
    private final boolean longSlots;
    private final int maxEntryBytes;
    private final OffHeapMemory memory;
    private final EpochDomain epochs;
    private final EntryArena arena;
    /** The current table; null once closed. Volatile: racy readers load it once per lookup. */
    private volatile Table table;
    /**
     * An older table whose entries are still being moved into {@link #table} ({@link TableGrowth}), or null.
     * Volatile: a racy reader that misses in the table it loaded looks here next; published before the new table.
     */
    private volatile Table draining;
    private final TableGrowth growth;
    private final Compaction compaction;
    /**
     * Set by every write that frees arena bytes or lowers the entry count, cleared when {@link #maintenanceDue}
     * finds nothing to do: the arena and table thresholds are looked at only when they may have been crossed.
     */
    private boolean maintenanceHint;
    /**
     * Runs once before the next change of the entries, then is cleared; see {@link #beforeNextChange}. Also how a
     * snapshot tells that a segment has not changed since it armed a hook: the hook is still there.
     */
    private ChangeHook beforeNextChange;
    private int size;
    /** Written only when {@link #warmUpHomeSlots}'s loads happen to fold to one value; never read. */
    private int slotWarmUpSink;
    private int tombstones;
    private long growths;
    private long rebuilds;

    /**
     * Creates a segment and allocates its first table.
     *
     * @param spec   the slot format and limits
     * @param memory the accountant to allocate from
     * @param epochs the domain that defers frees until racy readers have left
     * @throws OffHeapMemoryExhaustedException if the first table does not fit the budget
     */
    public Segment(SegmentSpec spec, OffHeapMemory memory, EpochDomain epochs) {
        this(spec, memory, epochs, TableGrowth.SYNC_FILL_BYTES, 0);
    }

    /**
     * Creates a segment whose first table holds {@code firstTableEntries} (if more than the spec's initial entries):
     * for a segment about to receive that many entries at once. Entries copied from another segment arrive in the
     * order of their home groups, and inserted in that order into a table still growing they would overflow group
     * after group, each insert probing past all the overflow before it. The spec is unchanged, so {@link #clear}
     * and shrinking return to the spec's size, not to this one.
     *
     * @param spec              the slot format and limits
     * @param memory            the accountant to allocate from
     * @param epochs            the domain that defers frees until racy readers have left
     * @param firstTableEntries entries the first table is sized for; at most the spec's initial entries: ignored
     * @throws OffHeapMemoryExhaustedException if the first table does not fit the budget
     */
    public Segment(SegmentSpec spec, OffHeapMemory memory, EpochDomain epochs, int firstTableEntries) {
        this(spec, memory, epochs, TableGrowth.SYNC_FILL_BYTES, firstTableEntries);
    }

    /** A segment that prepares its next table ahead once it has more than {@code syncFillBytes} control bytes. */
    Segment(SegmentSpec spec, OffHeapMemory memory, EpochDomain epochs, long syncFillBytes) {
        this(spec, memory, epochs, syncFillBytes, 0);
    }

    private Segment(SegmentSpec spec, OffHeapMemory memory, EpochDomain epochs, long syncFillBytes,
                    int firstTableEntries) {
        this.spec = requireNonNull(spec, "spec");
        this.memory = requireNonNull(memory, "memory");
        this.epochs = requireNonNull(epochs, "epochs");
        this.inline = spec.isInline();
        this.slotSize = spec.slotSize();
        this.keyWidth = spec.keyWidth();
        this.valueWidth = spec.valueWidth();
        this.longSlots = inline && valueWidth >= 1 && valueWidth <= 8;
        this.maxEntryBytes = spec.maxEntryBytes();
        this.arena = inline ? null : new EntryArena(memory, epochs, maxEntryBytes);
        this.table = Table.allocate(memory, Table.groupsFor(Math.max(spec.initialEntries(), firstTableEntries)),
            slotSize);
        this.growth = new TableGrowth(this, memory, slotSize, syncFillBytes, spec.initialEntries());
        this.compaction = new Compaction(this, arena, growth, memory, epochs, spec);
    }

    // =========================================================================================================
    // Racy reads: safe to run while a writer mutates; results must be validated by the caller.
    // =========================================================================================================

    /**
     * Copies the value stored for a key into {@code valueOut}.
     *
     * @param hash      the key's hash
     * @param key       buffer holding the encoded key
     * @param keyOffset where the key starts
     * @param keyLength key bytes
     * @param valueOut  destination; expandable, or with room for the maximum entry size after {@code outOffset}
     * @param outOffset where the value goes
     * @return the value length, {@link #NOT_FOUND}, or (only when racing a writer) {@link #RETRY}
     * @throws IllegalStateException if the segment is closed
     */
    public int optimisticGet(long hash, DirectBuffer key, int keyOffset, int keyLength, MutableDirectBuffer valueOut,
                   int outOffset) {
        checkRegion(key, keyOffset, keyLength, "key");
        checkOutput(valueOut, outOffset);
        final Table t = currentTable();
        final int r = optimisticGetIn(t, hash, key, keyOffset, keyLength, valueOut, outOffset);
        if (r != NOT_FOUND) {
            return r;
        }
        final Table d = draining;   // loaded after the table: a reader that sees a new table sees its old one
        return d == null || d == t ? NOT_FOUND : optimisticGetIn(d, hash, key, keyOffset, keyLength, valueOut, outOffset);
    }

    /** {@link #optimisticGet} in one table. */
    private int optimisticGetIn(Table t, long hash, DirectBuffer key, int keyOffset, int keyLength,
                                MutableDirectBuffer valueOut, int outOffset) {
        if (!inline) {
            return probe(t, hash, key, keyOffset, keyLength, valueOut, outOffset);
        }
        final int slot = probe(t, hash, key, keyOffset, keyLength, null, 0);
        if (slot < 0) {
            return slot;
        }
        if (outOffset + valueWidth > valueOut.capacity()) {
            valueOut.checkLimit(outOffset + valueWidth);
        }
        // Slot bytes of the table t itself: in bounds whatever a writer does (t stays mapped, see EpochDomain).
        MemoryAccess.copyToBuffer(t.slotAddress(slot) + SlotDescriptor.VALUE_OFFSET, valueOut, outOffset, valueWidth);
        return valueWidth;
    }

    /**
     * Inline format, values of at most 8 bytes: the value of a key as a little-endian long, without copying.
     *
     * @param hash         the key's hash ({@code hashFixed} of the key bits)
     * @param missingValue returned when the key is absent
     * @return the value bits (zero-extended), or {@code missingValue}
     * @throws IllegalStateException if the segment is closed
     * @throws UnsupportedOperationException if the segment is not inline with a value of at most 8 bytes
     */
    public long optimisticGetLong(long hash, long missingValue) {
        if (!longSlots) {
            return getLongWithoutValueSlots(hash, missingValue);
        }
        final Table t = currentTable();
        final long value = probeLong(t, hash, missingValue);
        if (value != missingValue) {
            return value;
        }
        final Table d = draining;   // only after a miss: the common case pays nothing for growth
        return d == null || d == t ? missingValue : probeLong(d, hash, missingValue);
    }

    /** {@link #optimisticGetLong} when slots are not 16-byte inline ones: value width 0, or not inline (throws). */
    private long getLongWithoutValueSlots(long hash, long missingValue) {
        if (!inline || valueWidth > 8) {
            throw notPrimitive();
        }
        // A key-only slot (value width 0) is just the hash: reading a value long there would run 8 bytes past the
        // slot, and past the table for the last slot.
        return probeBoth(currentTable(), hash, null, 0, 0) >= 0 ? 0L : missingValue;
    }

    /**
     * The probe of {@link #optimisticGetLong}. Why its own loop rather than {@link #probe}, each point measured
     * faster on a {@code long -> long} get, in cache and out of it:
     * <ul>
     *   <li>the value is loaded right after the matching hash compare, from the same address, instead of
     *       returning a slot index to load it from: out of cache the value load then overlaps the hash's miss
     *       instead of following it;</li>
     *   <li>the first tag match of the home group, where almost every present key is, is tried before the
     *       general loop, so the common case is straight-line code;</li>
     *   <li>the slot address is {@link Table#slot16AddressOfMatch}, one addressing mode after the
     *       trailing-zero count.</li>
     * </ul>
     * A miss in the fast path (a key outside its home group, a false tag match, an absent key) runs the general
     * loop from the home group again: it re-reads one control word the fast path already has in cache.
     * Reads only control words and slots of {@code t}, at indices derived from {@code t}'s own size. Slots are 16
     * bytes here: {@link #optimisticGetLong} only calls it for inline values of 1..8 bytes
     * ({@link SegmentSpec#slotSize}).
     */
    private long probeLong(Table t, long hash, long missingValue) {
        final int groups = t.groups;
        final long tagPattern = ControlBytes.broadcast(ControlBytes.tag(hash));
        final int home = ControlBytes.homeGroup(hash, groups);
        final long homeMatch = ControlBytes.matchTag(MemoryAccess.getLong(t.controlWordAddress(home)), tagPattern);
        if (homeMatch != 0) {
            final long slotAddress = t.slot16AddressOfMatch(home, homeMatch);
            if (MemoryAccess.getLong(slotAddress + SlotDescriptor.HASH_OFFSET) == hash) {
                return MemoryAccess.getLongLE(slotAddress + SlotDescriptor.VALUE_OFFSET);   // equal hash, equal key
            }
        }
        int group = home;
        for (int probed = 0; probed < groups; probed++) {   // again from the home group, every match this time
            final long word = MemoryAccess.getLong(t.controlWordAddress(group));
            for (long m = ControlBytes.matchTag(word, tagPattern); m != 0; m &= m - 1) {
                final long slotAddress = t.slot16AddressOfMatch(group, m);
                if (MemoryAccess.getLong(slotAddress + SlotDescriptor.HASH_OFFSET) == hash) {
                    return MemoryAccess.getLongLE(slotAddress + SlotDescriptor.VALUE_OFFSET);
                }
            }
            if (ControlBytes.matchEmpty(word) != 0) {
                return missingValue;
            }
            group = group + 1 == groups ? 0 : group + 1;
        }
        return missingValue;
    }

    /**
     * Looks a key up without copying anything. Without the lock, a non-negative result only means "present"
     * (the slot may move at once).
     *
     * @param hash      the key's hash
     * @param key       buffer holding the encoded key (ignored by the inline format)
     * @param keyOffset where the key starts
     * @param keyLength key bytes
     * @return a slot index, {@link #NOT_FOUND}, or (only when racing a writer) {@link #RETRY}
     * @throws IllegalStateException if the segment is closed
     */
    public int optimisticLookup(long hash, DirectBuffer key, int keyOffset, int keyLength) {
        if (!inline) {
            checkRegion(key, keyOffset, keyLength, "key");
        }
        return probeBoth(currentTable(), hash, key, keyOffset, keyLength);
    }

    /**
     * The slot of a key in table {@code t}, else in the draining table (flagged {@link #DRAINING_SLOT});
     * {@link #NOT_FOUND} or {@link #RETRY} otherwise.
     */
    private int probeBoth(Table t, long hash, DirectBuffer key, int keyOffset, int keyLength) {
        final int slot = probe(t, hash, key, keyOffset, keyLength, null, 0);
        if (slot != NOT_FOUND) {
            return slot;
        }
        final Table d = draining;
        if (d == null || d == t) {
            return NOT_FOUND;
        }
        final int old = probe(d, hash, key, keyOffset, keyLength, null, 0);
        return old >= 0 ? old | DRAINING_SLOT : old;
    }

    /**
     * The probe of every lookup but {@link #optimisticGetLong}'s: finds the slot of a key and, for an indirect
     * entry when {@code out} is not null, copies its value in the same checked step ({@link EntryArena#readIfKey}), so that
     * the slot's reference and the entry's header are each loaded once (see the class notes on racy reads).
     *
     * <p>Reads only control words and slots of {@code t}, at indices derived from {@code t}'s own size, and
     * entry memory that {@code readIfKey} checked. For indirect tables it also loads the home group's slot lines
     * before it reads the control word ({@link #warmUpHomeSlots}).
     *
     * @param out       null to find the slot; otherwise (indirect only) where the value of the entry goes
     * @param outOffset where in {@code out}
     * @return with {@code out == null} the slot, else the value length; or {@link #NOT_FOUND} or {@link #RETRY}
     */
    private int probe(Table t, long hash, DirectBuffer key, int keyOffset, int keyLength, MutableDirectBuffer out,
                      int outOffset) {
        final int groups = t.groups;
        final long tagPattern = ControlBytes.broadcast(ControlBytes.tag(hash));
        int group = ControlBytes.homeGroup(hash, groups);
        if (!inline) {
            warmUpHomeSlots(t, group, hash);
        }
        for (int probed = 0; probed < groups; probed++) {
            final long word = MemoryAccess.getLong(t.controlWordAddress(group));
            for (long m = ControlBytes.matchTag(word, tagPattern); m != 0; m &= m - 1) {
                final int slot = ControlBytes.slot(group, m);
                final long slotAddress = t.slotAddress(slot);
                if (MemoryAccess.getLong(slotAddress + SlotDescriptor.HASH_OFFSET) != hash) {
                    continue;
                }
                if (inline) {
                    return slot;      // the inline hash is a bijection of the key: equal hash, equal key
                }
                final int r = arena.readIfKey(MemoryAccess.getLong(slotAddress + SlotDescriptor.REFERENCE_OFFSET),
                    key, keyOffset, keyLength, out, outOffset);
                if (r >= 0) {
                    return out == null ? slot : r;
                }
                if (r == EntryArena.INVALID) {
                    return RETRY;
                }
            }
            if (ControlBytes.matchEmpty(word) != 0) {
                return NOT_FOUND;
            }
            group = group + 1 == groups ? 0 : group + 1;
        }
        return NOT_FOUND;
    }

    /**
     * Loads the slot lines of an indirect table's home group now, beside its control word, instead of after it:
     * their addresses do not depend on the word, so out of cache the two misses overlap and the slot read of a
     * match usually hits. The 8 slots span 2 or 3 cache lines (the table is only 8-byte aligned), and the first,
     * middle and last word of the group touch them all. The branch keeps the loads alive and is all but never
     * taken (it only bumps a counter nobody reads). Not done for {@link #probeLong}: measured there, it gained
     * nothing.
     */
    private void warmUpHomeSlots(Table t, int group, long hash) {
        final long homeSlots = t.slot16GroupAddress(group);
        final long touched = MemoryAccess.getLong(homeSlots)
            ^ MemoryAccess.getLong(homeSlots + SlotDescriptor.SLOT16_GROUP_BYTES / 2)
            ^ MemoryAccess.getLong(homeSlots + SlotDescriptor.SLOT16_GROUP_BYTES - Long.BYTES);
        if (touched == ~hash) {
            slotWarmUpSink++;
        }
    }

    // =========================================================================================================
    // Exclusive access: lookups by slot
    // =========================================================================================================

    /**
     * Finds the slot of a key. Requires exclusive (or shared read) access.
     *
     * @param hash      the key's hash
     * @param key       buffer holding the encoded key (ignored by the inline format)
     * @param keyOffset where the key starts
     * @param keyLength key bytes
     * @return the slot, valid until the next insert, or {@link #NOT_FOUND}
     * @throws IllegalStateException if the segment is closed or its memory is inconsistent
     */
    public int find(long hash, DirectBuffer key, int keyOffset, int keyLength) {
        if (!inline) {
            checkRegion(key, keyOffset, keyLength, "key");
        }
        final int slot = probeBoth(currentTable(), hash, key, keyOffset, keyLength);
        if (slot == RETRY) {
            throw corrupted("an entry reference is invalid under exclusive access");
        }
        return slot;
    }

    /**
     * The stored hash of a FULL slot.
     *
     * @param slot a slot returned by {@link #find} or {@link #nextFull}
     * @return the hash
     */
    public long hashAt(int slot) {
        final Table t = currentTable();
        return MemoryAccess.getLong(fullSlotAddress(t, slot) + SlotDescriptor.HASH_OFFSET);
    }

    /**
     * Key length of a FULL slot.
     *
     * @param slot a FULL slot
     * @return key bytes
     */
    public int keyLength(int slot) {
        final Table t = currentTable();
        final long slotAddress = fullSlotAddress(t, slot);
        return inline ? keyWidth : EntryArena.keyLength(entryAddress(slotAddress));
    }

    /**
     * Copies the key of a FULL slot into {@code out} (expanding it if expandable).
     *
     * @param slot   a FULL slot
     * @param out    destination
     * @param offset where the key goes
     * @return key bytes written
     */
    public int readKey(int slot, MutableDirectBuffer out, int offset) {
        final Table t = currentTable();
        final long slotAddress = fullSlotAddress(t, slot);
        if (inline) {
            final long bits = spec.hasher().unhashFixed(MemoryAccess.getLong(slotAddress + SlotDescriptor.HASH_OFFSET));
            ensureCapacity(out, offset, keyWidth);
            writeKeyBits(out, offset, bits, keyWidth);
            return keyWidth;
        }
        return EntryArena.copyKey(entryAddress(slotAddress), out, offset);
    }

    /** Writes the low {@code width} bytes of inline key bits, little-endian; {@code out} has room. */
    static void writeKeyBits(MutableDirectBuffer out, int offset, long bits, int width) {
        if (width == Long.BYTES) {
            out.putLong(offset, bits, java.nio.ByteOrder.LITTLE_ENDIAN);
            return;
        }
        for (int i = 0; i < width; i++) {
            out.putByte(offset + i, (byte) (bits >>> (i * Byte.SIZE)));
        }
    }

    /**
     * Inline format: the key bits (little-endian, zero-extended) of a FULL slot, recovered from its hash.
     *
     * @param slot a FULL slot
     * @return the key bits
     */
    public long readKeyBits(int slot) {
        if (!inline) {
            throw new UnsupportedOperationException("readKeyBits needs the inline slot format, this segment is " + spec);
        }
        final Table t = currentTable();
        return spec.hasher().unhashFixed(MemoryAccess.getLong(fullSlotAddress(t, slot) + SlotDescriptor.HASH_OFFSET));
    }

    /**
     * Value length of a FULL slot.
     *
     * @param slot a FULL slot
     * @return value bytes
     */
    public int valueLength(int slot) {
        final Table t = currentTable();
        final long slotAddress = fullSlotAddress(t, slot);
        return inline ? valueWidth : EntryArena.valueLength(entryAddress(slotAddress));
    }

    /**
     * Copies the value of a FULL slot into {@code out} (expanding it if expandable).
     *
     * @param slot   a FULL slot
     * @param out    destination
     * @param offset where the value goes
     * @return value bytes written
     */
    public int readValue(int slot, MutableDirectBuffer out, int offset) {
        final Table t = currentTable();
        final long slotAddress = fullSlotAddress(t, slot);
        if (inline) {
            ensureCapacity(out, offset, valueWidth);
            MemoryAccess.copyToBuffer(slotAddress + SlotDescriptor.VALUE_OFFSET, out, offset, valueWidth);
            return valueWidth;
        }
        return EntryArena.copyValue(entryAddress(slotAddress), out, offset);
    }

    /**
     * Inline format, values of at most 8 bytes: the value of a FULL slot as a little-endian long.
     *
     * @param slot a FULL slot
     * @return the value bits, zero-extended
     */
    public long readValueLong(int slot) {
        if (!inline || valueWidth > 8) {
            throw notPrimitive();
        }
        final long slotAddress = fullSlotAddress(currentTable(), slot);
        // As getLong: a key-only slot has no value bytes to read.
        return valueWidth == 0 ? 0L : MemoryAccess.getLongLE(slotAddress + SlotDescriptor.VALUE_OFFSET);
    }

    /**
     * The first FULL slot at or after {@code fromSlot}: a cursor for scans. Requires the lock across the
     * whole scan if slot indices are to stay meaningful.
     *
     * @param fromSlot where to start, 0 for the first
     * @return a FULL slot, or -1 when there is none
     */
    public int nextFull(int fromSlot) {
        final Table current = currentTable();
        if (fromSlot < 0) {
            throw new IndexOutOfBoundsException("fromSlot must be >= 0, was " + fromSlot);
        }
        final Table d = draining;
        if ((fromSlot & DRAINING_SLOT) == 0) {
            final int slot = nextFullIn(current, fromSlot);
            if (slot >= 0 || d == null) {
                return slot;
            }
            fromSlot = DRAINING_SLOT;   // the table is done: go on with the draining one
        }
        if (d == null) {
            return -1;
        }
        final int slot = nextFullIn(d, fromSlot & ~DRAINING_SLOT);
        return slot < 0 ? slot : slot | DRAINING_SLOT;
    }

    private static int nextFullIn(Table t, int fromSlot) {
        if (fromSlot >= t.capacity) {
            return -1;
        }
        int group = ControlBytes.groupOf(fromSlot);
        long full = ControlBytes.matchFull(MemoryAccess.getLong(t.controlWordAddress(group)));
        full &= -1L << ((fromSlot - (group << ControlBytes.GROUP_SHIFT)) * Byte.SIZE);   // bytes before fromSlot
        while (true) {
            if (full != 0) {
                return ControlBytes.slot(group, full);
            }
            if (++group == t.groups) {
                return -1;
            }
            full = ControlBytes.matchFull(MemoryAccess.getLong(t.controlWordAddress(group)));
        }
    }

    // =========================================================================================================
    // Exclusive access: writes
    // =========================================================================================================

    /**
     * Inserts or replaces.
     *
     * @param hash        the key's hash
     * @param key         encoded key
     * @param keyOffset   where it starts
     * @param keyLength   its length
     * @param value       encoded value
     * @param valueOffset where it starts
     * @param valueLength its length
     * @return true if the key was new
     * @throws EntryTooLargeException          if key plus value exceed the maximum entry size
     * @throws OffHeapMemoryExhaustedException if the budget refuses (the segment is unchanged)
     */
    public boolean put(long hash, DirectBuffer key, int keyOffset, int keyLength,
                       DirectBuffer value, int valueOffset, int valueLength) {
        final int slot = find(hash, key, keyOffset, keyLength);
        if (slot >= 0) {
            replaceValue(slot, value, valueOffset, valueLength);
            return false;
        }
        insert(hash, key, keyOffset, keyLength, value, valueOffset, valueLength);
        return true;
    }

    /**
     * Inserts if absent.
     *
     * @param hash        the key's hash
     * @param key         encoded key
     * @param keyOffset   where it starts
     * @param keyLength   its length
     * @param value       encoded value
     * @param valueOffset where it starts
     * @param valueLength its length
     * @return true if inserted, false if the key was present (nothing changed)
     */
    public boolean putIfAbsent(long hash, DirectBuffer key, int keyOffset, int keyLength,
                               DirectBuffer value, int valueOffset, int valueLength) {
        if (find(hash, key, keyOffset, keyLength) >= 0) {
            return false;
        }
        insert(hash, key, keyOffset, keyLength, value, valueOffset, valueLength);
        return true;
    }

    /**
     * Replaces the value if the key is present.
     *
     * @param hash        the key's hash
     * @param key         encoded key
     * @param keyOffset   where it starts
     * @param keyLength   its length
     * @param value       encoded value
     * @param valueOffset where it starts
     * @param valueLength its length
     * @return true if replaced, false if absent
     */
    public boolean replace(long hash, DirectBuffer key, int keyOffset, int keyLength,
                           DirectBuffer value, int valueOffset, int valueLength) {
        final int slot = find(hash, key, keyOffset, keyLength);
        if (slot < 0) {
            return false;
        }
        replaceValue(slot, value, valueOffset, valueLength);
        return true;
    }

    /**
     * Removes a key.
     *
     * @param hash      the key's hash
     * @param key       encoded key
     * @param keyOffset where it starts
     * @param keyLength its length
     * @return true if it was present
     */
    public boolean remove(long hash, DirectBuffer key, int keyOffset, int keyLength) {
        final int slot = find(hash, key, keyOffset, keyLength);
        if (slot < 0) {
            return false;
        }
        removeAt(slot);
        return true;
    }

    /**
     * Inline format, 8-byte values: inserts or replaces without a buffer.
     *
     * @param hash  {@code hashFixed} of the key bits
     * @param value the value bits (stored little-endian)
     * @return true if the key was new
     */
    public boolean putLong(long hash, long value) {
        if (!inline || valueWidth != 8) {
            throw notPrimitive();
        }
        changing();
        final Table t = currentTable();
        final int slot = probeBoth(t, hash, null, 0, 0);
        if (slot >= 0) {
            MemoryAccess.putLongLE(fullSlotAddress(t, slot) + SlotDescriptor.VALUE_OFFSET, value);
            return false;
        }
        insertInlineLong(hash, value);
        return true;
    }

    /**
     * Inline format, 8-byte values: replaces the value of a FULL slot.
     *
     * @param slot  a FULL slot
     * @param value the new value bits
     */
    public void replaceValueLong(int slot, long value) {
        if (!inline || valueWidth != 8) {
            throw notPrimitive();
        }
        changing();
        MemoryAccess.putLongLE(fullSlotAddress(currentTable(), slot) + SlotDescriptor.VALUE_OFFSET, value);
    }

    /**
     * Inline format, 8-byte values: inserts a key known to be absent.
     *
     * @param hash  {@code hashFixed} of the key bits
     * @param value the value bits
     * @return the new slot
     */
    public int insertLong(long hash, long value) {
        if (!inline || valueWidth != 8) {
            throw notPrimitive();
        }
        changing();
        if (Checks.ENABLED && probeBoth(currentTable(), hash, null, 0, 0) >= 0) {
            throw new IllegalStateException("insertLong of a key that is present");
        }
        return insertInlineLong(hash, value);
    }

    /**
     * Inserts a key known to be absent (the caller just called {@link #find}).
     *
     * @param hash        the key's hash
     * @param key         encoded key
     * @param keyOffset   where it starts
     * @param keyLength   its length
     * @param value       encoded value
     * @param valueOffset where it starts
     * @param valueLength its length
     * @return the slot of the new entry
     * @throws EntryTooLargeException          if key plus value exceed the maximum entry size
     * @throws OffHeapMemoryExhaustedException if the budget refuses (the segment is unchanged)
     */
    public int insert(long hash, DirectBuffer key, int keyOffset, int keyLength,
                      DirectBuffer value, int valueOffset, int valueLength) {
        checkRegion(key, keyOffset, keyLength, "key");
        checkRegion(value, valueOffset, valueLength, "value");
        checkEntrySize(keyLength, valueLength);
        changing();
        if (inline) {
            if (Checks.ENABLED && spec.hasher().hashFixed(key, keyOffset, keyWidth) != hash) {
                throw new IllegalArgumentException("inline hash is not hashFixed(key) of this segment's hasher");
            }
            if (Checks.ENABLED && probeBoth(currentTable(), hash, null, 0, 0) >= 0) {
                throw new IllegalStateException("insert of a key that is present");
            }
            return insertInline(hash, value, valueOffset);
        }
        if (Checks.ENABLED && find(hash, key, keyOffset, keyLength) >= 0) {
            throw new IllegalStateException("insert of a key that is present");
        }
        // Reserve the next table if the current one is full (unpublished), then the entry; only then modify.
        final Table current = currentTable();
        growth.beforeInsert(current, size, size + tombstones);
        final int freeSlot = firstFreeSlot(current, hash);
        final Table next = needsRebuild(current, freeSlot) ? growth.next(current, size) : null;
        final long ref;
        try {
            ref = compaction.allocateEntry(key, keyOffset, keyLength, value, valueOffset, valueLength);
        } catch (RuntimeException | Error e) {
            if (next != null) {
                growth.giveBack(next);
            }
            throw e;
        }
        if (next == null) {
            fill(current, freeSlot, hash, ref);
            return freeSlot;
        }
        growth.publish(next, current);
        final int slot = firstFreeSlot(next, hash);
        fill(next, slot, hash, ref);
        return slot;
    }

    private int insertInlineLong(long hash, long valueBits) {
        final int slot = slotForInsert(hash);
        MemoryAccess.putLongLE(table.slotAddress(slot) + SlotDescriptor.VALUE_OFFSET, valueBits);
        fill(table, slot, hash, 0);
        return slot;
    }

    private int insertInline(long hash, DirectBuffer value, int valueOffset) {
        final int slot = slotForInsert(hash);
        writeInlineValue(table.slotAddress(slot), value, valueOffset);
        fill(table, slot, hash, 0);
        return slot;
    }

    /**
     * The slot of the current table an inline insert goes to, after the growth work of one insert and, if the
     * table is full, publishing the next one ({@link TableGrowth}). Throws before anything changes if the next
     * table does not fit the budget.
     */
    private int slotForInsert(long hash) {
        final Table current = currentTable();
        growth.beforeInsert(current, size, size + tombstones);
        final int freeSlot = firstFreeSlot(current, hash);
        if (!needsRebuild(current, freeSlot)) {
            return freeSlot;
        }
        final Table next = growth.next(current, size);
        growth.publish(next, current);
        return firstFreeSlot(next, hash);
    }

    /** Makes {@code slot} FULL with {@code hash}; for indirect slots also stores the entry reference. */
    private void fill(Table t, int slot, long hash, long ref) {
        final long slotAddress = t.slotAddress(slot);
        MemoryAccess.putLong(slotAddress + SlotDescriptor.HASH_OFFSET, hash);
        if (!inline) {
            MemoryAccess.putLong(slotAddress + SlotDescriptor.REFERENCE_OFFSET, ref);
        }
        if (t.control(slot) == ControlBytes.DELETED) {
            tombstones--;
        }
        t.setControl(slot, ControlBytes.tag(hash));
        size++;
    }

    /**
     * Replaces the value of a FULL slot: in place when it fits its block, otherwise in a new block (allocated
     * before the old one is released, so a refused allocation leaves the old value).
     *
     * @param slot        a FULL slot
     * @param value       encoded value
     * @param valueOffset where it starts
     * @param valueLength its length
     * @throws EntryTooLargeException          if key plus value exceed the maximum entry size
     * @throws OffHeapMemoryExhaustedException if a new block is needed and the budget refuses
     */
    public void replaceValue(int slot, DirectBuffer value, int valueOffset, int valueLength) {
        checkRegion(value, valueOffset, valueLength, "value");
        final Table t = currentTable();
        final long slotAddress = fullSlotAddress(t, slot);
        changing();
        if (inline) {
            checkEntrySize(keyWidth, valueLength);
            writeInlineValue(slotAddress, value, valueOffset);
            return;
        }
        final long refAddress = slotAddress + SlotDescriptor.REFERENCE_OFFSET;
        final long ref = MemoryAccess.getLong(refAddress);
        checkEntrySize(EntryArena.keyLength(arena.trustedAddress(ref)), valueLength);
        final int inPlace = arena.writeValueIfItFits(ref, value, valueOffset, valueLength);
        if (inPlace != EntryArena.DOES_NOT_FIT) {
            maintenanceHint |= inPlace == EntryArena.WRITTEN_SHRUNK;
            return;
        }
        final long moved = compaction.allocateWithNewValue(refAddress, value, valueOffset, valueLength);
        final long old = MemoryAccess.getLong(refAddress);   // not ref if compaction moved the entry meanwhile
        MemoryAccess.putLong(refAddress, moved);
        arena.free(old);
        maintenanceHint = true;
    }

    /**
     * Removes the entry of a FULL slot.
     *
     * @param slot a FULL slot
     */
    public void removeAt(int slot) {
        final Table current = currentTable();
        final long slotAddress = fullSlotAddress(current, slot);
        changing();
        if (!inline) {
            arena.free(MemoryAccess.getLong(slotAddress + SlotDescriptor.REFERENCE_OFFSET));
        }
        final boolean old = (slot & DRAINING_SLOT) != 0;
        final Table t = old ? draining : current;
        final int index = slot & ~DRAINING_SLOT;
        final long word = MemoryAccess.getLong(t.controlWordAddress(ControlBytes.groupOf(index)));
        if (ControlBytes.matchEmpty(word) != 0) {
            t.setControl(index, ControlBytes.EMPTY);
        } else {
            t.setControl(index, ControlBytes.DELETED);
            if (!old) {
                tombstones++;   // the draining table's fill no longer matters
            }
        }
        size--;
        maintenanceHint = true;
    }

    /**
     * Makes the operating system map every page of the table now, so that the inserts that follow do not each
     * take a page fault. For a segment about to receive many entries at once while its owner holds a lock (the
     * new shards of a rebalance); call before publishing it, as it writes to the table's slot bytes. Only the
     * segment's owner may call it.
     */
    public void prefault() {
        final Table t = currentTable();
        t.touchSlotPages(0, t.bytes);
    }

    /**
     * Removes every entry and gives the memory back: the segment returns to the footprint of a new one with the
     * same spec (its first table, an empty arena). The old table and arena chunks are retired through the
     * {@link EpochDomain}, after the new table is published, so a racy reader still inside them reads mapped
     * memory, and one that arrives later cannot reach them. If the budget refuses even the first table, the
     * entries are removed one by one and the memory kept.
     */
    public void clear() {
        currentTable();
        changing();
        final Table fresh;
        try {
            fresh = Table.allocate(memory, Table.groupsFor(spec.initialEntries()), slotSize);
        } catch (OffHeapMemoryExhaustedException | IllegalStateException refused) {
            clearInPlace();
            return;
        }
        replaceStorage(fresh);
    }

    /**
     * Makes {@code replacement} the table ({@code null}: the segment is released) and retires everything the
     * segment held, its tables and arena chunks, through the {@link EpochDomain}, after the new table is
     * published: a racy reader still inside them reads mapped memory, and one that arrives later cannot reach them.
     */
    private void replaceStorage(Table replacement) {
        final Table old = table;
        final Table d = draining;
        table = replacement;   // volatile: from here on a reader finds no entry of the old tables
        draining = null;
        epochs.retire(memory, old.address, old.bytes);
        if (d != null) {
            epochs.retire(memory, d.address, d.bytes);
        }
        growth.reset();
        compaction.reset();
        maintenanceHint = false;
        if (arena != null) {
            arena.reset();
        }
        size = 0;
        tombstones = 0;
    }

    /** {@link #clear} without allocating: every entry removed, the tables and chunks kept. */
    private void clearInPlace() {
        for (int slot = nextFull(0); slot >= 0; slot = nextFull(slot + 1)) {
            removeAt(slot);
        }
        if (draining != null) {
            growth.drain(currentTable(), Integer.MAX_VALUE);   // nothing left to move: retires the old table
        }
    }

    // =========================================================================================================
    // Change tracking (snapshots): only the owner, under its lock
    // =========================================================================================================

    /**
     * Something to do once before the entries of a segment next change: a copy-on-write snapshot copies the
     * segment there, while it still holds what the snapshot saw.
     */
    public interface ChangeHook {
        /**
         * Called under the owner's write lock before the first change of {@code segment}'s entries after the hook
         * was set. If it throws, the change does not happen and the hook stays set.
         *
         * @param segment the segment about to change, unchanged so far
         */
        void beforeChange(Segment segment);
    }

    /**
     * Runs the hook, if any; first thing in every method that changes the entries. A write to a segment no
     * snapshot watches pays one field load.
     */
    private void changing() {
        final ChangeHook hook = beforeNextChange;
        if (hook != null) {
            hook.beforeChange(this);   // may throw: nothing has changed yet, and the hook stays set
            beforeNextChange = null;
        }
    }

    /**
     * Sets the hook to run once before the entries next change (insert, replace, remove, clear; not growth or
     * compaction, which move entries without changing them). Replaces a hook set before. Only the owner, under its
     * read or write lock.
     *
     * @param hook the hook, or null to clear it
     */
    public void beforeNextChange(ChangeHook hook) {
        this.beforeNextChange = hook;
    }

    /**
     * The hook set by {@link #beforeNextChange} that has not run yet, or null.
     *
     * @return the pending hook
     */
    public ChangeHook pendingChangeHook() {
        return beforeNextChange;
    }


    // =========================================================================================================
    // Memory maintenance (Compaction): only the owner, under its write lock
    // =========================================================================================================

    /**
     * Whether {@link #maintain} has work: chunks to empty or worth emptying, or a table to shrink. Cheap enough to
     * ask after every write: only a write that freed memory (a removal, a value moved to a new block or shrunk in
     * place) makes the next call look at the arena and the table.
     *
     * @return true if a step would do something
     */
    public boolean maintenanceDue() {
        if (!maintenanceHint) {
            return false;   // nothing was freed since the last look found nothing to do: one load on most writes
        }
        if (table == null || !compaction.due()) {
            maintenanceHint = false;
            return false;
        }
        return true;
    }

    /**
     * A racy, read-only hint that {@link #maintenanceDue} may be true: for a caller that has not taken the owner's
     * lock and only wants to know whether taking it could be worth it.
     *
     * @return false if no write freed memory since a look found nothing to do
     */
    public boolean mayNeedMaintenance() {
        return maintenanceHint;
    }

    /**
     * One step of memory maintenance, holding the caller's lock for about the spec's maximum pause at most: empties
     * chunks that are sparse enough to be worth it and shrinks a table much larger than its entries.
     *
     * @return whether work remains (call again, after releasing the lock for a while)
     * @throws IllegalStateException if the segment is closed
     */
    public boolean maintain() {
        currentTable();
        return compaction.step(false);
    }

    /**
     * One step of an explicit compaction: as {@link #maintain}, but empties every chunk at least an eighth free,
     * not only enough to bring the free bytes down. Call until it returns false; each call that starts a new
     * round chooses the chunks anew.
     *
     * @return whether work remains
     * @throws IllegalStateException if the segment is closed
     */
    public boolean compact() {
        currentTable();
        return compaction.step(true);
    }

    /**
     * The longest time one maintenance step (including a compaction for room after a refused allocation) held the
     * lock, for tests and stats.
     *
     * @return nanoseconds
     */
    public long longestMaintenanceStepNanos() {
        return compaction.longestStepNanos();
    }

    // =========================================================================================================
    // Bulk copy as raw records (iteration; moving and saving entries without decoding them)
    // =========================================================================================================

    /**
     * Copies the entries of FULL slots in {@code [fromSlot, toSlot)} into {@code out} as records
     * {@code [hash:8][keyLength:4][valueLength:4][key][value]} (little-endian), stopping before the first record
     * that would end past {@code outOffset + maxBytes}.
     *
     * @param fromSlot  first slot to consider
     * @param toSlot    end of the range (clamped to the capacity)
     * @param out       destination (expanded if expandable)
     * @param outOffset where the first record goes
     * @param maxBytes  room for records; at least {@code RecordDescriptor.HEADER_BYTES + maxEntryBytes} guarantees
     *                  progress
     * @return {@code (long) nextSlot << 32 | bytesWritten}; decode with {@link #exportNextSlot} and
     *         {@link #exportBytes}. {@code nextSlot == min(toSlot, capacity)} when the range is done.
     */
    public long exportRange(int fromSlot, int toSlot, MutableDirectBuffer out, int outOffset, int maxBytes) {
        return SegmentRecords.export(this, currentTable(), fromSlot, toSlot, out, outOffset, maxBytes, 0, 1L << 32);
    }

    /**
     * {@link #exportRange(int, int, MutableDirectBuffer, int, int)} of only the entries whose hash's routing bits
     * ({@link KeyHasher#routingBits}) lie in {@code [routingFrom, routingTo)}: the entries of one shard range, for
     * a segment whose entries are about to be routed to other shards.
     *
     * @param fromSlot    first slot to consider
     * @param toSlot      end of the range (clamped to the capacity)
     * @param out         destination (expanded if expandable)
     * @param outOffset   where the first record goes
     * @param maxBytes    room for records
     * @param routingFrom first routing value exported, {@code 0..2^32}
     * @param routingTo   end of the routing values exported, {@code 0..2^32}
     * @return as {@link #exportRange(int, int, MutableDirectBuffer, int, int)}
     */
    public long exportRange(int fromSlot, int toSlot, MutableDirectBuffer out, int outOffset, int maxBytes,
                            long routingFrom, long routingTo) {
        return SegmentRecords.export(this, currentTable(), fromSlot, toSlot, out, outOffset, maxBytes, routingFrom,
            routingTo);
    }

    /**
     * The slot to continue from, out of an {@link #exportRange} result.
     *
     * @param exportResult a value returned by {@code exportRange}
     * @return the next slot
     */
    public static int exportNextSlot(long exportResult) {
        return (int) (exportResult >>> 32);
    }

    /**
     * Bytes written, out of an {@link #exportRange} result.
     *
     * @param exportResult a value returned by {@code exportRange}
     * @return bytes written
     */
    public static int exportBytes(long exportResult) {
        return (int) exportResult;
    }

    /**
     * Puts every record of {@code [offset, offset + length)} (as written by {@link #exportRange}) into this
     * segment, replacing existing keys. All records are checked before the first is applied; the hashes must
     * come from the same hash function and seed.
     *
     * @param records buffer of records
     * @param offset  where they start
     * @param length  their total length
     * @return the number of records applied
     * @throws IllegalArgumentException        if the region is not a sequence of well-formed records
     * @throws OffHeapMemoryExhaustedException if the budget refuses (records before the failing one are applied)
     */
    public int importRecords(DirectBuffer records, int offset, int length) {
        currentTable();   // closed: IllegalStateException even for an empty region
        checkRegion(records, offset, length, "records");
        return SegmentRecords.importAll(this, records, offset, length);
    }

    // =========================================================================================================
    // Invariants
    // =========================================================================================================

    /**
     * Checks this segment's memory against the invariants its code relies on, and throws on the first violation.
     * For tests and debugging: it visits every slot and every arena block, and allocates. Requires exclusive
     * access or the owner's read lock. What is checked: {@link SegmentVerifier}.
     *
     * @throws IllegalStateException naming the slot or block and what is wrong; or if the segment is closed
     */
    public void verifyInvariants() {
        SegmentVerifier.verify(this, currentTable(), draining, arena, size, tombstones);
    }

    /**
     * The current table, for the verifier and for tests that corrupt it on purpose to show that
     * {@link #verifyInvariants} notices.
     */
    Table tableForTests() {
        return currentTable();
    }

    /** The arena (null for the inline format), for tests that corrupt an entry on purpose. */
    EntryArena arenaForTests() {
        return arena;
    }

    // =========================================================================================================
    // Size, stats, close
    // =========================================================================================================

    /**
     * Live entries.
     *
     * @return the entry count
     */
    public int size() {
        return size;
    }

    /**
     * Entries whose hash's routing bits ({@link KeyHasher#routingBits}) lie in {@code [routingFrom, routingTo)}:
     * how many of this segment's entries one shard range holds. Requires the same access as a read; visits every
     * slot.
     *
     * @param routingFrom first routing value counted, {@code 0..2^32}
     * @param routingTo   end of the routing values counted, {@code 0..2^32}
     * @return the count
     */
    public long entriesInRouting(long routingFrom, long routingTo) {
        currentTable();
        if (routingFrom <= 0 && routingTo >= 1L << 32) {
            return size;
        }
        long count = 0;
        for (int slot = nextFull(0); slot >= 0; slot = nextFull(slot + 1)) {
            final long routing = KeyHasher.routingBits(hashAt(slot));
            if (routing >= routingFrom && routing < routingTo) {
                count++;
            }
        }
        return count;
    }

    /**
     * Bytes of the keys and values of the live entries, without any header or slot: what moving every entry
     * elsewhere would copy. Requires the same access as a read.
     *
     * @return key plus value bytes of all entries
     */
    public long payloadBytes() {
        currentTable();
        return inline ? (long) size * (keyWidth + valueWidth)
            : arena.liveEntryBytes() - (long) EntryDescriptor.HEADER_BYTES * size;
    }

    /**
     * Slots in the current table.
     *
     * @return capacity, a multiple of 8
     */
    public int capacity() {
        return currentTable().capacity;
    }

    /**
     * The format and limits this segment was created with.
     *
     * @return the spec
     */
    public SegmentSpec spec() {
        return spec;
    }

    /**
     * Statistics; requires the same access as a read.
     *
     * @return a snapshot of counters and byte totals
     */
    public SegmentStats stats() {
        final Table t = table;
        if (t == null) {
            return new SegmentStats(0, 0, 0, 0, 0, 0, 0, growths, rebuilds, compaction.shrinks(),
                compaction.longestStepNanos());
        }
        final Table d = draining;
        return new SegmentStats(size, t.capacity, tombstones, t.bytes + (d == null ? 0 : d.bytes) + growth.preparedBytes(),
            inline ? 0 : arena.reservedBytes(), inline ? 0 : arena.liveEntryBytes(),
            inline ? 0 : arena.relocatedBytes(), growths, rebuilds, compaction.shrinks(), compaction.longestStepNanos());
    }

    /**
     * Whether {@link #close()} or {@link #release()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return table == null;
    }

    /**
     * Retires all memory without waiting for racy readers; it is freed as soon as they have left (see
     * {@link EpochDomain#synchronize()}). Idempotent. Requires exclusive access.
     */
    public void release() {
        if (table != null) {
            replaceStorage(null);   // racy readers that load the table from now on see the segment closed
        }
    }

    /**
     * Releases all memory and waits until racy readers have left, so that on return every byte this segment
     * allocated has been freed. Idempotent. Requires exclusive access; must not be called inside a read section.
     */
    @Override
    public void close() {
        release();
        epochs.synchronize();
    }

    // =========================================================================================================
    // Internals
    // =========================================================================================================

    /**
     * The current table, for writers under the map's lock and for optimistic readers alike. A reader may get a
     * table that a writer retires a moment later; {@link EpochDomain} keeps it mapped until the reader's section
     * ends, so every address derived from its own fields stays readable.
     *
     * @throws IllegalStateException if the segment is closed
     */
    /** The table, or null once closed. */
    Table tableOrNull() {
        return table;
    }

    /** The table; throws if the segment is closed. */
    Table currentTable() {
        final Table t = table;
        if (t == null) {
            throw closed();
        }
        return t;
    }

    private IllegalStateException closed() {
        return new SegmentClosedException();
    }

    private IllegalStateException corrupted(String what) {
        return new IllegalStateException("segment memory is inconsistent: " + what);
    }

    private UnsupportedOperationException notPrimitive() {
        return new UnsupportedOperationException("primitive access needs the inline slot format with a value of at"
            + " most 8 bytes (exactly 8 to write); this segment is " + spec);
    }

    /** Address of {@code slot}, after checking it is in range (always) and FULL (when checks are on). */
    private long fullSlotAddress(Table current, int slot) {
        final boolean old = (slot & DRAINING_SLOT) != 0 && slot > 0;
        final Table t = old ? draining : current;
        if (old) {
            slot &= ~DRAINING_SLOT;
        }
        if (t == null || slot < 0 || slot >= t.capacity) {
            throw new IndexOutOfBoundsException("slot " + (old ? "of the draining table " : "") + slot
                + " is outside the table of " + (t == null ? 0 : t.capacity) + " slots");
        }
        if (Checks.ENABLED && !ControlBytes.isFull(t.control(slot))) {
            throw new IllegalStateException("slot " + slot + " is not FULL");
        }
        return t.slotAddress(slot);
    }

    /** Address of the entry that the FULL indirect slot at {@code slotAddress} references (under the lock). */
    long entryAddress(long slotAddress) {
        return arena.trustedAddress(MemoryAccess.getLong(slotAddress + SlotDescriptor.REFERENCE_OFFSET));
    }

    /** The first EMPTY or DELETED slot on the probe path of {@code hash}. */
    private int firstFreeSlot(Table t, long hash) {
        final int groups = t.groups;
        int group = ControlBytes.homeGroup(hash, groups);
        for (int probed = 0; probed < groups; probed++) {
            final long free = ControlBytes.matchEmptyOrDeleted(MemoryAccess.getLong(t.controlWordAddress(group)));
            if (free != 0) {
                return ControlBytes.slot(group, free);
            }
            group = group + 1 == groups ? 0 : group + 1;
        }
        throw corrupted("no free slot although the fill limit keeps one");
    }

    private boolean needsRebuild(Table t, int freeSlot) {
        return t.control(freeSlot) == ControlBytes.EMPTY && size + tombstones >= t.maxFill;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Growth hooks (TableGrowth), all under the owner's write lock
    // ---------------------------------------------------------------------------------------------------------

    Table draining() {
        return draining;
    }

    /**
     * One past the last slot number {@link #nextFull} and {@link #exportRange} can reach: the capacity, or while a
     * growth drains the old table, {@link #DRAINING_SLOT} plus the old table's capacity. Slot ranges for scans
     * and exports are taken in {@code [0, slotLimit())}. Requires the owner's lock for the limit to stay valid.
     *
     * @return the end of the slot numbers
     */
    public int slotLimit() {
        final Table d = draining;
        return d == null ? currentTable().capacity : DRAINING_SLOT | d.capacity;
    }

    /** Address of a FULL slot, flagged or not, under the owner's lock. */
    long slotAddress(int slot) {
        return fullSlotAddress(currentTable(), slot);
    }

    /** Makes {@code next} the table and {@code old} the draining one; {@code old}'s entries move in later. */
    void publishGrowth(Table next, Table old) {
        if (next.groups > old.groups) {
            growths++;
        } else if (next.groups == old.groups) {
            rebuilds++;
        }
        tombstones = 0;
        draining = old;   // first: a racy reader that sees the new table also finds the old one
        table = next;
    }

    /** The draining table has no entry left: readers stop looking there, and its memory is retired. */
    void endDrain(Table old) {
        draining = null;
        epochs.retire(memory, old.address, old.bytes);
    }

    /** Moves the entry of slot {@code from} of the draining table {@code old} into {@code current}. */
    void moveSlot(Table old, int from, Table current) {
        final long source = old.slotAddress(from);
        final long hash = MemoryAccess.getLong(source + SlotDescriptor.HASH_OFFSET);
        final int to = firstFreeSlot(current, hash);
        MemoryAccess.copy(source, current.slotAddress(to), slotSize);
        if (current.control(to) == ControlBytes.DELETED) {
            tombstones--;
        }
        current.setControl(to, ControlBytes.tag(hash));
        old.setControl(from, ControlBytes.DELETED);   // not EMPTY: probes of later groups still pass through
    }

    private void writeInlineValue(long slotAddress, DirectBuffer value, int valueOffset) {
        final long valueAddress = slotAddress + SlotDescriptor.VALUE_OFFSET;
        final int area = slotSize - SlotDescriptor.VALUE_OFFSET;
        for (int i = 0; i < area; i += Long.BYTES) {
            MemoryAccess.putLong(valueAddress + i, 0L);   // zero padding, so getLong of narrow values is exact
        }
        MemoryAccess.copyFromBuffer(value, valueOffset, valueAddress, valueWidth);
    }

    void checkEntrySize(int keyLength, int valueLength) {
        if (inline) {
            if (keyLength != keyWidth || valueLength != valueWidth) {
                throw new IllegalArgumentException("inline segment stores keys of exactly " + keyWidth
                    + " bytes and values of exactly " + valueWidth + " bytes, got " + keyLength + " and " + valueLength);
            }
            return;
        }
        if (keyLength > SegmentSpec.MAX_KEY_BYTES || (long) keyLength + valueLength > maxEntryBytes) {
            throw new EntryTooLargeException(keyLength, valueLength, maxEntryBytes);
        }
    }

    private void checkOutput(MutableDirectBuffer out, int offset) {
        requireNonNull(out, "valueOut");
        if (offset < 0 || (!out.isExpandable() && offset > out.capacity() - maxEntryBytes)) {
            throw new IndexOutOfBoundsException("valueOut must be expandable or have " + maxEntryBytes
                + " bytes (the maximum entry size) after offset " + offset + "; capacity is " + out.capacity());
        }
    }

    static void ensureCapacity(MutableDirectBuffer out, int offset, int length) {
        if (offset < 0 || offset + length > out.capacity()) {
            out.checkLimit(offset + length);   // expands an expandable buffer, throws for a fixed one
        }
    }

    private static void checkRegion(DirectBuffer buffer, int offset, int length, String name) {
        requireNonNull(buffer, name);
        if (offset < 0 || length < 0 || offset > buffer.capacity() - length) {
            throw new IndexOutOfBoundsException(name + " region [" + offset + ", " + offset + " + " + length
                + ") is outside its buffer of capacity " + buffer.capacity());
        }
    }

    private static <T> T requireNonNull(T value, String name) {
        if (value == null) {
            throw new NullPointerException(name);
        }
        return value;
    }

    @Override
    public String toString() {
        final Table t = table;
        return t == null ? "Segment{closed}" : "Segment{" + spec + ", size=" + size + ", capacity=" + t.capacity + '}';
    }
}
