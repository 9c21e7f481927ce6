package io.starshard.offheap;

/**
 * Layout of an entry of the {@link EntryArena} (indirect slot format), and of the reference a slot holds to it:
 * every offset, width and bit field is defined here, once.
 *
 * <pre>
 *  live entry (block start 8-byte aligned; block size from the class c, or the dedicated chunk's size)
 *   0                  3    4                 8              8 + keyLength
 *   +------------------+----+-----------------+--------------+----------------+
 *   | keyLength (24 b) | c  | valueLength     |  key bytes   |  value bytes   |  ... unused rest of the block
 *   +------------------+----+-----------------+--------------+----------------+
 *   int 0 (native order): bits 0..23 key length, bits 24..31 block class c (0..51, 255 = dedicated chunk)
 *   int 1 (native order): value length
 *
 *  free block (on its class's free list)
 *   0                                    8
 *   +------------------------------------+--------------------------------------+
 *   | reference of the next free block   |  stale bytes                         |
 *   +------------------------------------+--------------------------------------+
 *
 *  reference (in an indirect slot, and in a free-list link)
 *   63               32 31                0
 *   +-------------------+-----------------+
 *   |  chunk id         |  offset         |   NO_BLOCK (-1) ends a free list
 *   +-------------------+-----------------+
 * </pre>
 *
 * <p>Why the class sits in the header: an update can rewrite a value in place whenever the new entry still fits
 * its block, and {@code free} finds the block's list without a side table; it costs the key length its top 8
 * bits (keys up to {@value #MAX_KEY_LENGTH} bytes). Why a racy reader loads the two header ints as one
 * {@code long} ({@link #headerKeyLength}, {@link #headerValueLength}): a free overwrites the same 8 bytes with a
 * link, and lengths that were checked must be the lengths used (see {@link EntryArena#readIfKey}).
 */
final class EntryDescriptor {
    /** Offset of the int holding the key length and the block class. */
    static final int KEY_LENGTH_AND_CLASS_OFFSET = 0;
    /** Offset of the int holding the value length. */
    static final int VALUE_LENGTH_OFFSET = KEY_LENGTH_AND_CLASS_OFFSET + Integer.BYTES;
    /** Bytes before the key: the two header ints. */
    static final int HEADER_BYTES = VALUE_LENGTH_OFFSET + Integer.BYTES;
    /** Offset of the key bytes; the value follows the key. */
    static final int KEY_OFFSET = HEADER_BYTES;
    /** Offset of a free block's link to the next free block of its class (over the header of the former entry). */
    static final int FREE_LINK_OFFSET = 0;
    /** Bits of int 0 that hold the key length. */
    static final int KEY_LENGTH_BITS = 24;
    /** Largest key length the header can hold. */
    static final int MAX_KEY_LENGTH = (1 << KEY_LENGTH_BITS) - 1;
    /** Where the block class starts in int 0. */
    static final int CLASS_SHIFT = KEY_LENGTH_BITS;
    /** The block class of an entry alone in a dedicated chunk. */
    static final int DEDICATED_CLASS = 0xFF;
    /** Blocks start 8-byte aligned, so an entry's header is one aligned long. */
    static final int BLOCK_ALIGNMENT = Long.BYTES;
    /** The end of a free list. */
    static final long NO_BLOCK = -1L;

    private static final int REF_CHUNK_SHIFT = Integer.SIZE;

    private EntryDescriptor() {
    }

    /** The reference of the block at {@code offset} of chunk {@code chunkId}. */
    static long ref(int chunkId, int offset) {
        return ((long) chunkId << REF_CHUNK_SHIFT) | (offset & 0xFFFF_FFFFL);
    }

    /** The chunk id of a reference (any long decodes to some id; readers check it). */
    static int refChunkId(long ref) {
        return (int) (ref >>> REF_CHUNK_SHIFT);
    }

    /** The offset in its chunk of a reference (any long decodes to some offset; readers check it). */
    static int refOffset(long ref) {
        return (int) ref;
    }

    /** Int 0 of a header: the key length and the block class. */
    static int keyLengthAndClass(int keyLength, int blockClass) {
        return keyLength | (blockClass << CLASS_SHIFT);
    }

    /** Key length out of int 0 of a header. */
    static int keyLengthOf(int keyLengthAndClass) {
        return keyLengthAndClass & MAX_KEY_LENGTH;
    }

    /** Block class out of int 0 of a header. */
    static int classOf(int keyLengthAndClass) {
        return keyLengthAndClass >>> CLASS_SHIFT;
    }

    /** Key length out of a header loaded as one native-order long. */
    static int headerKeyLength(long header) {
        return keyLengthOf(MemoryAccess.LITTLE_ENDIAN ? (int) header : (int) (header >>> Integer.SIZE));
    }

    /** Value length out of a header loaded as one native-order long. */
    static int headerValueLength(long header) {
        return MemoryAccess.LITTLE_ENDIAN ? (int) (header >>> Integer.SIZE) : (int) header;
    }

    /** Offset of the value bytes in an entry whose key has {@code keyLength} bytes. */
    static long valueOffset(int keyLength) {
        return (long) KEY_OFFSET + keyLength;
    }

    /** Bytes of an entry (header, key, value): what {@code liveEntryBytes} accounts. */
    static long entryBytes(int keyLength, int valueLength) {
        return (long) HEADER_BYTES + keyLength + valueLength;
    }

    /** The smallest block that holds an entry of these lengths: its bytes rounded up to the block alignment. */
    static int blockBytes(long entryBytes) {
        return (int) ((entryBytes + BLOCK_ALIGNMENT - 1) & -BLOCK_ALIGNMENT);
    }
}
