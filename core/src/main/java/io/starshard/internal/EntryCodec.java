package io.starshard.internal;

import io.starshard.codec.Codec;
import io.starshard.codec.CodecException;
import io.starshard.codec.EncodingTooLargeException;
import io.starshard.codec.LongCodec;
import io.starshard.internal.ThreadContext.Frame;
import io.starshard.offheap.EntryTooLargeException;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.SegmentSpec;
import org.agrona.DirectBuffer;

import java.nio.ByteOrder;

/**
 * The one place where keys and values become bytes and hashes and back: encoding into a {@link Frame}, the key
 * hash, decoding, the entry size limit, and the translation of codec failures into the map's exceptions.
 *
 * <p>Why one class: every write encodes before it locks (so that a failing codec changes nothing) and every
 * read decodes after it validates; keeping both here means the limit checks and error messages are the same for
 * the object methods and the primitive {@code long} methods.
 *
 * @param <K> key type
 * @param <V> value type
 */
final class EntryCodec<K, V> {
    /** Encoded bytes of a {@code long} key plus a {@code long} value. */
    private static final int LONG_ENTRY_BYTES = 2 * LongCodec.WIDTH;

    private final Class<K> keyType;
    private final Class<V> valueType;
    private final Codec<K> keyCodec;
    private final Codec<V> valueCodec;
    private final KeyHasher hasher;
    /** Fixed key width 1..8 (hashed with the bijective {@code hashFixed}), or 0 for other keys. */
    private final int fixedKeyWidth;
    private final int maxEntryBytes;
    private final int maxKeyBytes;
    /** Long keys and long values stored inline: the primitive methods apply. */
    private final boolean longToLong;

    EntryCodec(Class<K> keyType, Class<V> valueType, Codec<K> keyCodec, Codec<V> valueCodec, KeyHasher hasher,
               int maxEntryBytes, boolean inlineSlots) {
        this.keyType = keyType;
        this.valueType = valueType;
        this.keyCodec = keyCodec;
        this.valueCodec = valueCodec;
        this.hasher = hasher;
        this.maxEntryBytes = maxEntryBytes;
        this.maxKeyBytes = Math.min(maxEntryBytes, SegmentSpec.MAX_KEY_BYTES);
        final int keyWidth = keyCodec.fixedLength();
        this.fixedKeyWidth = keyWidth >= 1 && keyWidth <= SegmentSpec.INLINE_MAX_KEY_BYTES ? keyWidth : 0;
        this.longToLong = keyCodec instanceof LongCodec && valueCodec instanceof LongCodec && inlineSlots;
    }

    KeyHasher hasher() {
        return hasher;
    }

    int maxEntryBytes() {
        return maxEntryBytes;
    }

    // =========================================================================================================
    // Keys
    // =========================================================================================================

    /** The key as {@code K}, or null when it is of another type (such a key is simply absent). */
    @SuppressWarnings("unchecked")
    K keyOrNull(Object key) {
        return keyType.isInstance(key) ? (K) key : null;
    }

    /** Whether {@code value} could be stored in this map (of the value type). */
    boolean isValueType(Object value) {
        return valueType.isInstance(value);
    }

    /**
     * Encodes a key that is to be stored into {@code f} and hashes it.
     *
     * @throws EntryTooLargeException if the key is longer than any key may be
     * @throws CodecException         if the codec fails (nothing was written to the map)
     */
    void encodeKey(K key, Frame f) {
        try {
            f.keyLength = keyCodec.encode(key, f.key, 0, maxKeyBytes);
        } catch (EncodingTooLargeException e) {
            final long keyBytes = e.requiredBytes() == EncodingTooLargeException.UNKNOWN_LENGTH
                ? maxKeyBytes + 1L : e.requiredBytes();
            throw new EntryTooLargeException("key of " + describe(e) + " bytes exceeds the maximum key size of "
                + maxKeyBytes + " bytes (maximum entry size " + maxEntryBytes + ")", keyBytes, maxKeyBytes);
        } catch (RuntimeException e) {
            throw encodeFailure("key", keyCodec, key, e);
        }
        f.hash = hashOf(f);
    }

    /**
     * Encodes a key for an operation that only acts on a present key, and hashes it. A key too long to be
     * stored cannot be present, so it is reported as absent rather than refused.
     *
     * @return false if the key is longer than any stored key can be (then {@code f} holds no key)
     */
    boolean encodeLookupKey(K key, Frame f) {
        try {
            f.keyLength = keyCodec.encode(key, f.key, 0, maxKeyBytes);
        } catch (EncodingTooLargeException e) {
            return false;
        } catch (RuntimeException e) {
            throw encodeFailure("key", keyCodec, key, e);
        }
        f.hash = hashOf(f);
        return true;
    }

    /** The hash of a {@code long} key of a {@code Long -> Long} map, as {@link #encodeKey} computes it. */
    long hashLong(long key) {
        return hasher.hashFixed(key);
    }

    /**
     * Puts a {@code long} key of a {@code Long -> Long} map into {@code f}, as {@link #encodeKey} would.
     *
     * @throws UnsupportedOperationException if this is not a {@code Long -> Long} map with the built-in codecs
     */
    void encodeLongKey(long key, Frame f) {
        checkLongToLong();
        f.key.putLong(0, key, ByteOrder.LITTLE_ENDIAN);
        f.keyLength = LongCodec.WIDTH;
        f.hash = hasher.hashFixed(key);
    }

    /**
     * Puts a {@code long} key and value of a {@code Long -> Long} map into {@code f}, under the same entry size
     * limit as {@link #encodeValue}.
     *
     * @throws UnsupportedOperationException if this is not a {@code Long -> Long} map with the built-in codecs
     * @throws EntryTooLargeException        if the map's maximum entry size is below 16 bytes
     */
    void encodeLongEntry(long key, long value, Frame f) {
        encodeLongKey(key, f);
        if (LONG_ENTRY_BYTES > maxEntryBytes) {
            throw new EntryTooLargeException(LongCodec.WIDTH, LongCodec.WIDTH, maxEntryBytes);
        }
        f.value.putLong(0, value, ByteOrder.LITTLE_ENDIAN);
        f.valueLength = LongCodec.WIDTH;
    }

    private long hashOf(Frame f) {
        return hashOf(f.key, 0, f.keyLength);
    }

    /** The hash the map stores for an encoded key: how a record's stored hash is checked before it is trusted. */
    long hashOf(DirectBuffer key, int offset, int length) {
        return fixedKeyWidth != 0
            ? hasher.hashFixed(KeyHasher.fixedKeyBits(key, offset, fixedKeyWidth))
            : hasher.hash(key, offset, length);
    }

    /**
     * How the keys are encoded, for a file's header: the codec's class, the type it encodes and its fixed length
     * (the type too: one codec class, Kryo's, encodes every other type).
     */
    String keyCodecIdentity() {
        return identity(keyCodec);
    }

    /** How the values are encoded, for a file's header. */
    String valueCodecIdentity() {
        return identity(valueCodec);
    }

    private static String identity(Codec<?> codec) {
        return codec.getClass().getName() + "<" + codec.type().getName() + ">/" + codec.fixedLength();
    }

    Class<K> keyType() {
        return keyType;
    }

    Class<V> valueType() {
        return valueType;
    }

    int keyWidth() {
        return keyCodec.fixedLength();
    }

    int valueWidth() {
        return valueCodec.fixedLength();
    }

    K decodeKey(DirectBuffer buffer, int offset, int length) {
        return keyCodec.decode(buffer, offset, length);
    }

    // =========================================================================================================
    // Values
    // =========================================================================================================

    /**
     * Encodes the value to write into {@code f}, within what the key (already in {@code f}) leaves of the
     * maximum entry size.
     *
     * @throws EntryTooLargeException if key plus value exceed the maximum entry size
     * @throws CodecException         if the codec fails (nothing was written to the map)
     */
    void encodeValue(V value, Frame f) {
        final int keyLength = f.keyLength;
        final int limit = maxEntryBytes - keyLength;
        try {
            f.valueLength = valueCodec.encode(value, f.value, 0, limit);
        } catch (EncodingTooLargeException e) {
            final boolean unknown = e.requiredBytes() == EncodingTooLargeException.UNKNOWN_LENGTH;
            final long valueBytes = unknown ? limit + 1L : e.requiredBytes();
            throw new EntryTooLargeException("entry of "
                + (unknown ? "more than " + (keyLength + (long) limit) : Long.toString(keyLength + valueBytes))
                + " bytes (key " + keyLength + " + value " + describe(e) + ") exceeds the maximum entry size of "
                + maxEntryBytes + " bytes (configure a larger maxEntryBytes or store smaller values)",
                keyLength + valueBytes, maxEntryBytes);
        } catch (RuntimeException e) {
            throw encodeFailure("value", valueCodec, value, e);
        }
    }

    /** Decodes the value bytes a read copied into {@code f}. */
    V decodeRead(Frame f, int length) {
        return valueCodec.decode(f.read, 0, length);
    }

    /** Decodes the value bytes a read copied into {@code f}, into {@code reuse} where the codec supports it. */
    V decodeRead(Frame f, int length, V reuse) {
        return valueCodec.decode(f.read, 0, length, reuse);
    }

    /** The {@code long} value a read copied into {@code f}. */
    static long readLong(Frame f) {
        return f.read.getLong(0, ByteOrder.LITTLE_ENDIAN);
    }

    /** The {@code long} value to write that {@code f} holds. */
    static long valueLong(Frame f) {
        return f.value.getLong(0, ByteOrder.LITTLE_ENDIAN);
    }

    V decodeValue(DirectBuffer buffer, int offset, int length) {
        return valueCodec.decode(buffer, offset, length);
    }

    // =========================================================================================================
    // Checks and messages
    // =========================================================================================================

    /**
     * @throws UnsupportedOperationException unless keys and values both use the built-in {@link LongCodec} and
     *                                       are stored inline
     */
    void checkLongToLong() {
        if (!longToLong) {
            throw new UnsupportedOperationException("primitive long methods need a Long -> Long map with the built-in"
                + " LongCodec for keys and values; this map has " + keyType.getSimpleName() + " -> "
                + valueType.getSimpleName());
        }
    }

    private static CodecException encodeFailure(String what, Codec<?> codec, Object input, RuntimeException e) {
        return new CodecException("the " + what + " codec " + codec + " failed to encode a "
            + input.getClass().getName() + " (" + e + "); the map is unchanged", e);
    }

    private static String describe(EncodingTooLargeException e) {
        return e.requiredBytes() == EncodingTooLargeException.UNKNOWN_LENGTH
            ? "more than " + e.limitBytes() : Long.toString(e.requiredBytes());
    }

    /** Key and value types for messages, e.g. {@code "Long -> String"}. */
    String describeTypes() {
        return keyType.getSimpleName() + " -> " + valueType.getSimpleName();
    }
}
