package io.starshard.offheap;

/**
 * How a segment stores its entries: the slot format, the size limits and the starting capacity.
 *
 * <p>Chosen once per map from its codecs. Two formats:
 * <ul>
 *   <li><b>inline</b> ({@link #inline}): a fixed-width key of 1..8 bytes and a fixed-width value of
 *       0..{@value #INLINE_MAX_VALUE_BYTES} bytes. The slot holds the key's (bijective) hash and the value
 *       itself: no pointer to chase, 16 bytes per slot for {@code long -> long}. The hash must be
 *       {@link KeyHasher#hashFixed(long)} of the key bits, computed with this spec's hasher.</li>
 *   <li><b>indirect</b> ({@link #indirect}): anything else. The slot holds the full hash and a reference to an
 *       entry {@code [header][key][value]} in the segment's arena.</li>
 * </ul>
 * Immutable.
 */
public final class SegmentSpec {
    /** Largest value that is stored inside an inline slot. */
    public static final int INLINE_MAX_VALUE_BYTES = SlotDescriptor.MAX_VALUE_AREA;
    /** Largest key of an inline slot: the key must be recoverable from its 64-bit hash. */
    public static final int INLINE_MAX_KEY_BYTES = 8;
    /** Upper bound for {@code maxEntryBytes}: keeps every entry and its header addressable with an int. */
    public static final int MAX_ENTRY_BYTES_LIMIT = 1 << 30;
    /** Largest key of an indirect entry: the entry header keeps 24 bits for the key length. */
    public static final int MAX_KEY_BYTES = EntryDescriptor.MAX_KEY_LENGTH;
    /** Starting capacity when none is given: one group, enough for 6 entries (shards start small and lazy). */
    public static final int DEFAULT_INITIAL_ENTRIES = Table.MAX_FILL_PER_GROUP;

    private final boolean inline;
    private final int keyWidth;
    private final int valueWidth;
    private final int maxEntryBytes;
    private final int initialEntries;
    private final KeyHasher hasher;
    private final long maxPauseNanos;

    /** The longest a segment's own memory maintenance may hold its owner's lock by default: one millisecond. */
    public static final long DEFAULT_MAX_PAUSE_NANOS = 1_000_000;

    private SegmentSpec(boolean inline, int keyWidth, int valueWidth, int maxEntryBytes, int initialEntries,
                        KeyHasher hasher, long maxPauseNanos) {
        this.inline = inline;
        this.keyWidth = keyWidth;
        this.valueWidth = valueWidth;
        this.maxEntryBytes = maxEntryBytes;
        this.initialEntries = initialEntries;
        this.hasher = hasher;
        this.maxPauseNanos = maxPauseNanos;
    }

    /**
     * The inline format for fixed-width keys and values.
     *
     * @param keyWidth   key bytes, 1..8
     * @param valueWidth value bytes, 0..{@value #INLINE_MAX_VALUE_BYTES}
     * @param hasher     the hasher whose {@code hashFixed} produces the hashes passed to the segment
     * @return a spec
     * @throws IllegalArgumentException if a width is out of range
     */
    public static SegmentSpec inline(int keyWidth, int valueWidth, KeyHasher hasher) {
        if (keyWidth < 1 || keyWidth > INLINE_MAX_KEY_BYTES) {
            throw new IllegalArgumentException("inline keyWidth must be 1.." + INLINE_MAX_KEY_BYTES + ", was " + keyWidth);
        }
        if (valueWidth < 0 || valueWidth > INLINE_MAX_VALUE_BYTES) {
            throw new IllegalArgumentException("inline valueWidth must be 0.." + INLINE_MAX_VALUE_BYTES + ", was "
                + valueWidth);
        }
        if (hasher == null) {
            throw new NullPointerException("hasher");
        }
        return new SegmentSpec(true, keyWidth, valueWidth, keyWidth + valueWidth, DEFAULT_INITIAL_ENTRIES, hasher,
            DEFAULT_MAX_PAUSE_NANOS);
    }

    /**
     * The indirect format.
     *
     * @param maxEntryBytes the most bytes a key and its value may take together, 1..{@value #MAX_ENTRY_BYTES_LIMIT}
     * @return a spec
     * @throws IllegalArgumentException if {@code maxEntryBytes} is out of range
     */
    public static SegmentSpec indirect(int maxEntryBytes) {
        if (maxEntryBytes < 1 || maxEntryBytes > MAX_ENTRY_BYTES_LIMIT) {
            throw new IllegalArgumentException("maxEntryBytes must be 1.." + MAX_ENTRY_BYTES_LIMIT + ", was "
                + maxEntryBytes);
        }
        return new SegmentSpec(false, -1, -1, maxEntryBytes, DEFAULT_INITIAL_ENTRIES, null, DEFAULT_MAX_PAUSE_NANOS);
    }

    /**
     * Whether an inline spec can serve keys and values of these fixed widths.
     *
     * @param keyWidth   fixed key width, or negative if variable
     * @param valueWidth fixed value width, or negative if variable
     * @return true if {@link #inline} accepts them
     */
    public static boolean fitsInline(int keyWidth, int valueWidth) {
        return keyWidth >= 1 && keyWidth <= INLINE_MAX_KEY_BYTES && valueWidth >= 0
            && valueWidth <= INLINE_MAX_VALUE_BYTES;
    }

    /**
     * A copy that starts with room for {@code entries} entries without growing.
     *
     * @param entries expected entries, 0 or more
     * @return a new spec
     */
    public SegmentSpec withInitialEntries(int entries) {
        if (entries < 0) {
            throw new IllegalArgumentException("initial entries must be >= 0, was " + entries);
        }
        return new SegmentSpec(inline, keyWidth, valueWidth, maxEntryBytes, entries, hasher, maxPauseNanos);
    }

    /**
     * A copy whose memory maintenance (compaction, shrinking the table) holds the owner's lock for at most about
     * {@code nanos} per step: the step looks at the clock every few entries and stops once this time has passed.
     *
     * @param nanos 1 µs .. 1 s
     * @return a new spec
     * @throws IllegalArgumentException if {@code nanos} is out of range
     */
    public SegmentSpec withMaxPauseNanos(long nanos) {
        if (nanos < 1_000 || nanos > 1_000_000_000) {
            throw new IllegalArgumentException("maxPause must be between 1 µs and 1 s, was " + nanos + " ns");
        }
        return new SegmentSpec(inline, keyWidth, valueWidth, maxEntryBytes, initialEntries, hasher, nanos);
    }

    /**
     * How long one step of memory maintenance may hold the owner's lock.
     *
     * @return nanoseconds
     */
    public long maxPauseNanos() {
        return maxPauseNanos;
    }

    /**
     * Whether slots hold entries inline.
     *
     * @return true for the inline format
     */
    public boolean isInline() {
        return inline;
    }

    /**
     * Fixed key width of the inline format.
     *
     * @return bytes, or -1 for indirect
     */
    public int keyWidth() {
        return keyWidth;
    }

    /**
     * Fixed value width of the inline format.
     *
     * @return bytes, or -1 for indirect
     */
    public int valueWidth() {
        return valueWidth;
    }

    /**
     * Limit on key plus value bytes.
     *
     * @return bytes
     */
    public int maxEntryBytes() {
        return maxEntryBytes;
    }

    /**
     * Entries the first table holds without growing.
     *
     * @return entries
     */
    public int initialEntries() {
        return initialEntries;
    }

    /**
     * The hasher of the inline format.
     *
     * @return the hasher, or null for indirect
     */
    public KeyHasher hasher() {
        return hasher;
    }

    /**
     * Bytes per slot.
     *
     * @return 8 + the value area for inline (the value width rounded up to 8), 16 for indirect
     */
    public int slotSize() {
        return inline ? SlotDescriptor.inlineSlotBytes(valueWidth) : SlotDescriptor.INDIRECT_SLOT_BYTES;
    }

    @Override
    public String toString() {
        return inline
            ? "SegmentSpec{inline, key=" + keyWidth + "B, value=" + valueWidth + "B, initialEntries=" + initialEntries + '}'
            : "SegmentSpec{indirect, maxEntryBytes=" + maxEntryBytes + ", initialEntries=" + initialEntries + '}';
    }
}
