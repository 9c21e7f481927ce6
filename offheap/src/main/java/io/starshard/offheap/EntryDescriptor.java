package io.starshard.offheap;

/**
 * Layout of an entry of the {@link EntryArena} (indirect slot format), and of the reference a slot holds to it:
 * every offset, width and bit field is defined here, once.
 *
 * <pre>
 *  entry (8-byte aligned; its block is its bytes rounded up to 8, or the whole dedicated chunk)
 *   0                  3    4                 8              8 + keyLength
 *   +------------------+----+-----------------+--------------+----------------+
 *   | keyLength (24 b) | k  | valueLength     |  key bytes   |  value bytes   |  ... up to the block's end
 *   +------------------+----+-----------------+--------------+----------------+
 *   int 0 (native order): bits 0..23 key length, bits 24..31 kind k (0 = packed in a chunk, 255 = dedicated chunk)
 *   int 1 (native order): value length
 *
 *  reference (in an indirect slot)
 *   63               32 31                0
 *   +-------------------+-----------------+
 *   |  chunk id         |  offset         |
 *   +-------------------+-----------------+
 * </pre>
 *
 * <p>Why the kind sits in the header: the arena's check ({@link EntryArena.Census}) tells a packed entry from
 * one alone in a dedicated chunk without trusting the chunk table alone; it costs the key length its top 8 bits
 * (keys up to {@value #MAX_KEY_LENGTH} bytes). Why a racy reader loads the two header ints as one {@code long}
 * ({@link #headerKeyLength}, {@link #headerValueLength}): a writer may rewrite the same 8 bytes, and lengths that
 * were checked must be the lengths used (see {@link EntryArena#readIfKey}).
 */
final class EntryDescriptor {
    /** Offset of the int holding the key length and the kind. */
    static final int KEY_LENGTH_AND_KIND_OFFSET = 0;
    /** Offset of the int holding the value length. */
    static final int VALUE_LENGTH_OFFSET = KEY_LENGTH_AND_KIND_OFFSET + Integer.BYTES;
    /** Bytes before the key: the two header ints. */
    static final int HEADER_BYTES = VALUE_LENGTH_OFFSET + Integer.BYTES;
    /** Offset of the key bytes; the value follows the key. */
    static final int KEY_OFFSET = HEADER_BYTES;
    /** Bits of int 0 that hold the key length. */
    static final int KEY_LENGTH_BITS = 24;
    /** Largest key length the header can hold. */
    static final int MAX_KEY_LENGTH = (1 << KEY_LENGTH_BITS) - 1;
    /** Where the kind starts in int 0. */
    static final int KIND_SHIFT = KEY_LENGTH_BITS;
    /** The kind of an entry packed into a chunk with others. */
    static final int PACKED = 0;
    /** The kind of an entry alone in a dedicated chunk. */
    static final int DEDICATED = 0xFF;
    /** Blocks start 8-byte aligned, so an entry's header is one aligned long. */
    static final int BLOCK_ALIGNMENT = Long.BYTES;

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

    /** Int 0 of a header: the key length and the kind. */
    static int keyLengthAndKind(int keyLength, int kind) {
        return keyLength | (kind << KIND_SHIFT);
    }

    /** Key length out of int 0 of a header. */
    static int keyLengthOf(int keyLengthAndKind) {
        return keyLengthAndKind & MAX_KEY_LENGTH;
    }

    /** Kind out of int 0 of a header. */
    static int kindOf(int keyLengthAndKind) {
        return keyLengthAndKind >>> KIND_SHIFT;
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
