package io.starshard.replication;

import io.starshard.codec.Codec;
import org.agrona.ExpandableArrayBuffer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Encodes one command in {@link CommandFormat}'s layout, once, on the caller's thread (one encoder per thread): the
 * bytes that go to the log are the codecs' own encodings, which every member decodes with the same codecs.
 */
final class CommandEncoder {
    private final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(256);
    private int position;

    /** Starts a command; the correlation id is filled in by the client when it sends it. */
    CommandEncoder begin(byte type, long clientId) {
        position = CommandFormat.putHeader(buffer, type, clientId, 0);
        return this;
    }

    /** Appends a length-prefixed encoding of {@code value}, refusing one longer than {@code maxLength} bytes. */
    <T> CommandEncoder blob(Codec<? super T> codec, T value, int maxLength) {
        final int lengthAt = position;
        position += Integer.BYTES;
        @SuppressWarnings("unchecked")
        final Codec<T> typed = (Codec<T>) codec;
        final int length = typed.encode(value, buffer, position, maxLength);
        buffer.putInt(lengthAt, length);
        position += length;
        return this;
    }

    /** Appends a length-prefixed UTF-8 string. */
    CommandEncoder string(String value) {
        final byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        buffer.putInt(position, bytes.length);
        buffer.putBytes(position + Integer.BYTES, bytes);
        position += Integer.BYTES + bytes.length;
        return this;
    }

    /** Appends an int. */
    CommandEncoder putInt(int value) {
        buffer.putInt(position, value);
        position += Integer.BYTES;
        return this;
    }

    /** Rewrites an int appended earlier (a batch's count, known at its end). */
    void putIntAt(int at, int value) {
        buffer.putInt(at, value);
    }

    int length() {
        return position;
    }

    /** Forgets everything after {@code length} (a batch entry that did not fit). */
    void truncate(int length) {
        position = length;
    }

    /** The command's bytes, copied (the client keeps them until the command is answered, to resend them). */
    byte[] toBytes() {
        return Arrays.copyOf(buffer.byteArray(), position);
    }
}
