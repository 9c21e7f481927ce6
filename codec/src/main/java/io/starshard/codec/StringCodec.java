package io.starshard.codec;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@code String} as strict UTF-8, with no header (the map stores each entry's length).
 *
 * <p>Why hand-written rather than {@code String.getBytes(UTF_8)}: encoding must not allocate, and it must not
 * silently replace characters. The JDK's encoder turns an unpaired surrogate into {@code '?'}, so two
 * different keys could share one encoding and a value would not read back as written; here such a string is
 * rejected with a {@link CodecException} naming the index. Decoding validates the bytes the same way
 * (no overlong forms, no encoded surrogates, nothing above U+10FFFF, no truncated sequence) before building
 * the string, so a corrupted region is reported rather than decoded into replacement characters.
 *
 * <p>Encoding first measures and validates the whole string, then writes: an exception (unpaired surrogate,
 * {@link EncodingTooLargeException}) leaves every byte of the buffer as it was. Pure-ASCII strings, the common
 * case for identifiers and symbols, then take a fast path that copies each {@code char} as one byte straight
 * into the backing array, and on decode a Latin-1 string construction that the JDK stores compactly without
 * re-coding.
 */
public final class StringCodec implements Codec<String> {
    /** The stateless instance. */
    public static final StringCodec INSTANCE = new StringCodec();

    private StringCodec() {
    }

    @Override
    public Class<String> type() {
        return String.class;
    }

    @Override
    public int fixedLength() {
        return VARIABLE_LENGTH;
    }

    /**
     * {@inheritDoc}
     *
     * <p>Measures and validates the whole string before the first write, so that on any exception (too large,
     * unpaired surrogate) not a byte of the buffer has changed.
     */
    @Override
    public int encode(String value, MutableDirectBuffer buffer, int offset, int maxLength) {
        Objects.requireNonNull(value, "value");
        final int chars = value.length();
        final long required = utf8Length(value);
        if (required > maxLength) {
            throw new EncodingTooLargeException(String.class, maxLength, required);
        }
        if (required == chars) {
            writeAscii(value, chars, buffer, offset);
            return chars;
        }
        return writeUtf8(value, buffer, offset);
    }

    /**
     * ASCII fast path (one byte per char, known to be all ASCII): writes straight into the backing array when
     * there is one, one bounds check for the region instead of one call per byte.
     */
    private static void writeAscii(String value, int chars, MutableDirectBuffer buffer, int offset) {
        buffer.checkLimit(offset + chars);              // grows an expandable buffer, else checks the bounds
        final byte[] array = buffer.byteArray();
        if (array != null) {
            final int base = buffer.wrapAdjustment() + offset;
            for (int i = 0; i < chars; i++) {
                array[base + i] = (byte) value.charAt(i);
            }
            return;
        }
        for (int i = 0; i < chars; i++) {
            buffer.putByte(offset + i, (byte) value.charAt(i));
        }
    }

    /**
     * The number of bytes the strict UTF-8 encoding of {@code value} takes.
     *
     * @param value the string
     * @return its encoded length
     * @throws CodecException if the string contains an unpaired surrogate
     */
    public static long utf8Length(String value) {
        final int chars = value.length();
        long bytes = 0;
        for (int i = 0; i < chars; i++) {
            final char c = value.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c)) {
                if (i + 1 >= chars || !Character.isLowSurrogate(value.charAt(i + 1))) {
                    throw unpairedSurrogate(i);
                }
                bytes += 4;
                i++;
            } else if (Character.isLowSurrogate(c)) {
                throw unpairedSurrogate(i);
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    private static CodecException unpairedSurrogate(int index) {
        return new CodecException("string has an unpaired surrogate at index " + index
            + "; it has no UTF-8 encoding and would not read back as written");
    }

    /** Writes the (already validated) string; returns the bytes written. */
    private static int writeUtf8(String value, MutableDirectBuffer buffer, int offset) {
        final int chars = value.length();
        int at = offset;
        for (int i = 0; i < chars; i++) {
            final char c = value.charAt(i);
            if (c < 0x80) {
                buffer.putByte(at++, (byte) c);
            } else if (c < 0x800) {
                buffer.putByte(at++, (byte) (0xC0 | (c >>> 6)));
                buffer.putByte(at++, (byte) (0x80 | (c & 0x3F)));
            } else if (Character.isHighSurrogate(c)) {
                final int cp = Character.toCodePoint(c, value.charAt(++i));
                buffer.putByte(at++, (byte) (0xF0 | (cp >>> 18)));
                buffer.putByte(at++, (byte) (0x80 | ((cp >>> 12) & 0x3F)));
                buffer.putByte(at++, (byte) (0x80 | ((cp >>> 6) & 0x3F)));
                buffer.putByte(at++, (byte) (0x80 | (cp & 0x3F)));
            } else {
                buffer.putByte(at++, (byte) (0xE0 | (c >>> 12)));
                buffer.putByte(at++, (byte) (0x80 | ((c >>> 6) & 0x3F)));
                buffer.putByte(at++, (byte) (0x80 | (c & 0x3F)));
            }
        }
        return at - offset;
    }

    @Override
    public String decode(DirectBuffer buffer, int offset, int length) {
        Regions.check(buffer, offset, length);
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset, bytes);
        boolean ascii = true;
        for (byte b : bytes) {
            if (b < 0) {
                ascii = false;
                break;
            }
        }
        if (ascii) {
            return new String(bytes, StandardCharsets.ISO_8859_1);
        }
        validateUtf8(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Throws unless {@code bytes} is well-formed UTF-8 (RFC 3629). */
    static void validateUtf8(byte[] bytes) {
        final int n = bytes.length;
        int i = 0;
        while (i < n) {
            final int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                i++;
                continue;
            }
            final int need;
            int min;
            int max = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1;
                min = 0x80;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                min = b0 == 0xE0 ? 0xA0 : 0x80;      // E0: reject overlong
                max = b0 == 0xED ? 0x9F : 0xBF;      // ED: reject encoded surrogates
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                min = b0 == 0xF0 ? 0x90 : 0x80;      // F0: reject overlong
                max = b0 == 0xF4 ? 0x8F : 0xBF;      // F4: reject above U+10FFFF
            } else {
                throw malformed(i, "invalid lead byte 0x" + Integer.toHexString(b0));
            }
            if (i + need >= n) {
                throw malformed(i, "truncated " + (need + 1) + "-byte sequence");
            }
            for (int k = 1; k <= need; k++) {
                final int b = bytes[i + k] & 0xFF;
                if (b < min || b > max) {
                    throw malformed(i + k, "invalid continuation byte 0x" + Integer.toHexString(b));
                }
                min = 0x80;
                max = 0xBF;
            }
            i += need + 1;
        }
    }

    private static CodecException malformed(int index, String what) {
        return new CodecException("malformed UTF-8 at byte " + index + " of the region: " + what);
    }

    @Override
    public String toString() {
        return "StringCodec";
    }
}
