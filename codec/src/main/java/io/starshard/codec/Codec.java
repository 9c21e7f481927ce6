package io.starshard.codec;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Turns values of one type into bytes and back, so that a map can keep them off the Java heap.
 *
 * <p>Why this shape: the map encodes every key and value into a per-thread scratch buffer before it takes
 * a lock, and decodes every value from a private copy after the read is validated. A codec therefore never
 * sees shared memory and never needs to be thread-safe beyond having no mutable shared state; it only reads
 * and writes the caller's buffer, inside the region it was given. Agrona buffers are used because one type
 * covers heap arrays and native memory with explicit byte order, and the built-in codecs can write through
 * them without allocating.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>{@link #encode} writes the encoding of a non-null value starting at {@code offset} and returns its
 *       length. It writes nothing outside {@code [offset, offset + maxLength)}. If the encoding would be
 *       longer than {@code maxLength} it throws {@link EncodingTooLargeException}; the bytes of the region
 *       are then unspecified (the region is the caller's scratch space, never live map memory).</li>
 *   <li>{@link #decode(DirectBuffer, int, int)} reads exactly the region {@code [offset, offset + length)}
 *       and nothing outside it. A region that is not a valid encoding (truncated, corrupted) gives a
 *       {@link CodecException}; never a silently wrong value where the format can tell, never another
 *       unchecked exception.</li>
 *   <li>Equal values ({@link Object#equals}) have identical encodings. The map compares keys by their bytes,
 *       so a codec that broke this rule would let one key occupy two entries.</li>
 *   <li>{@link #fixedLength()} is either the exact length of every encoding or {@link #VARIABLE_LENGTH}.
 *       Fixed-width codecs let the map store entries inline in its slots.</li>
 * </ul>
 *
 * @param <T> the type of the values this codec handles
 */
public interface Codec<T> {

    /** {@link #fixedLength()} of a codec whose encodings differ in length. */
    int VARIABLE_LENGTH = -1;

    /**
     * The class of the values this codec handles.
     *
     * @return the value class; never a primitive class
     */
    Class<T> type();

    /**
     * The length of every encoding, or {@link #VARIABLE_LENGTH}.
     *
     * @return the fixed encoded length in bytes ({@code >= 0}), or {@link #VARIABLE_LENGTH}
     */
    int fixedLength();

    /**
     * Whether every encoding has the same length.
     *
     * @return {@code fixedLength() != VARIABLE_LENGTH}
     */
    default boolean isFixedLength() {
        return fixedLength() != VARIABLE_LENGTH;
    }

    /**
     * Encodes {@code value} into {@code buffer} starting at {@code offset}.
     *
     * @param value     the value to encode; must not be null
     * @param buffer    the destination; must have room for {@code offset + maxLength} bytes or be expandable
     * @param offset    where the encoding starts
     * @param maxLength the most bytes the encoding may take
     * @return the number of bytes written, in {@code [0, maxLength]}
     * @throws NullPointerException     if {@code value} is null
     * @throws EncodingTooLargeException if the encoding needs more than {@code maxLength} bytes
     * @throws CodecException           if the value cannot be encoded for another reason
     */
    int encode(T value, MutableDirectBuffer buffer, int offset, int maxLength);

    /**
     * Decodes the value whose encoding occupies exactly {@code [offset, offset + length)} of {@code buffer}.
     *
     * @param buffer the source
     * @param offset where the encoding starts
     * @param length the length of the encoding
     * @return the decoded value, never null
     * @throws CodecException if the region is not a valid encoding
     */
    T decode(DirectBuffer buffer, int offset, int length);

    /**
     * Decodes into {@code reuse} when this codec supports it, so that a hot loop can read values without
     * allocating; otherwise behaves like {@link #decode(DirectBuffer, int, int)}.
     *
     * @param buffer the source
     * @param offset where the encoding starts
     * @param length the length of the encoding
     * @param reuse  an instance to overwrite, or null to allocate a new one
     * @return {@code reuse} filled with the decoded value when supported, otherwise a new instance
     * @throws CodecException if the region is not a valid encoding
     */
    default T decode(DirectBuffer buffer, int offset, int length, T reuse) {
        return decode(buffer, offset, length);
    }
}
