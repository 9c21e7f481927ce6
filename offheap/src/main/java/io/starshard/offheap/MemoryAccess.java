package io.starshard.offheap;

import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;

import java.nio.ByteOrder;

/**
 * The one place in Starshard that touches raw memory.
 *
 * <p>Why one class: every raw access is a chance to crash the JVM, so they all pass through here, where they
 * can be reviewed together and later replaced by a {@code java.lang.foreign} implementation (JDK 22+) without
 * touching the table code. {@code ArchitectureTest} fails if any other source file names {@code UnsafeApi},
 * {@code sun.misc.Unsafe} or {@code jdk.internal.misc}.
 *
 * <p>This class performs no bounds checks of its own: callers pass addresses derived from a live allocation
 * (a {@link Table} descriptor or an arena chunk) and have checked offsets and lengths against it. Accessors
 * carry their memory ordering in their name ({@code getLong} is plain); see {@code package-info}.
 */
final class MemoryAccess {
    /** True when the platform stores multi-byte values least-significant byte first, as all encodings here do. */
    static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private MemoryAccess() {
    }

    static long allocate(long bytes) {
        return UnsafeApi.allocateMemory(bytes);
    }

    static void free(long address) {
        UnsafeApi.freeMemory(address);
    }

    static void fill(long address, long bytes, byte value) {
        UnsafeApi.setMemory(null, address, bytes, value);
    }

    static long getLong(long address) {
        return UnsafeApi.getLong(null, address);
    }

    static void putLong(long address, long value) {
        UnsafeApi.putLong(null, address, value);
    }

    /** Little-endian long at a native address (values are stored little-endian, like every encoding here). */
    static long getLongLE(long address) {
        long v = UnsafeApi.getLong(null, address);
        return LITTLE_ENDIAN ? v : Long.reverseBytes(v);
    }

    static void putLongLE(long address, long value) {
        UnsafeApi.putLong(null, address, LITTLE_ENDIAN ? value : Long.reverseBytes(value));
    }

    static int getInt(long address) {
        return UnsafeApi.getInt(null, address);
    }

    static void putInt(long address, int value) {
        UnsafeApi.putInt(null, address, value);
    }

    static byte getByte(long address) {
        return UnsafeApi.getByte(null, address);
    }

    static void putByte(long address, byte value) {
        UnsafeApi.putByte(null, address, value);
    }

    static void copy(long fromAddress, long toAddress, long bytes) {
        UnsafeApi.copyMemory(null, fromAddress, null, toAddress, bytes);
    }

    /** Copies {@code bytes} from native memory into {@code buffer} at {@code index}; the caller checked the range. */
    static void copyToBuffer(long fromAddress, org.agrona.MutableDirectBuffer buffer, int index, int bytes) {
        UnsafeApi.copyMemory(null, fromAddress, buffer.byteArray(), buffer.addressOffset() + index, bytes);
    }

    /** Copies {@code bytes} from {@code buffer} at {@code index} into native memory; the caller checked the range. */
    static void copyFromBuffer(DirectBuffer buffer, int index, long toAddress, int bytes) {
        UnsafeApi.copyMemory(buffer.byteArray(), buffer.addressOffset() + index, null, toAddress, bytes);
    }

    /** Little-endian long at {@code index} of {@code buffer}, unaligned; the caller checked the range. */
    static long getLongLE(DirectBuffer buffer, int index) {
        long v = UnsafeApi.getLongUnaligned(buffer.byteArray(), buffer.addressOffset() + index);
        return LITTLE_ENDIAN ? v : Long.reverseBytes(v);
    }

    /** Little-endian unsigned int at {@code index} of {@code buffer}, unaligned; the caller checked the range. */
    static long getUnsignedIntLE(DirectBuffer buffer, int index) {
        int v = UnsafeApi.getIntUnaligned(buffer.byteArray(), buffer.addressOffset() + index);
        return (LITTLE_ENDIAN ? v : Integer.reverseBytes(v)) & 0xFFFF_FFFFL;
    }

    /** Unsigned byte at {@code index} of {@code buffer}; the caller checked the range. */
    static int getUnsignedByte(DirectBuffer buffer, int index) {
        return UnsafeApi.getByte(buffer.byteArray(), buffer.addressOffset() + index) & 0xFF;
    }

    /** Writes {@code value} little-endian at {@code index} of {@code buffer}, unaligned; the caller checked the range. */
    static void putLongLE(org.agrona.MutableDirectBuffer buffer, int index, long value) {
        UnsafeApi.putLongUnaligned(buffer.byteArray(), buffer.addressOffset() + index,
            LITTLE_ENDIAN ? value : Long.reverseBytes(value));
    }

    /**
     * Compares {@code length} bytes of native memory with a region of {@code buffer}.
     * Both ranges were checked by the caller; the native side is read 8 bytes at a time.
     */
    static boolean equals(long address, DirectBuffer buffer, int index, int length) {
        final byte[] array = buffer.byteArray();
        final long base = buffer.addressOffset() + index;
        int i = 0;
        for (; i + Long.BYTES <= length; i += Long.BYTES) {
            if (UnsafeApi.getLongUnaligned(null, address + i) != UnsafeApi.getLongUnaligned(array, base + i)) {
                return false;
            }
        }
        for (; i < length; i++) {
            if (UnsafeApi.getByte(null, address + i) != UnsafeApi.getByte(array, base + i)) {
                return false;
            }
        }
        return true;
    }
}
