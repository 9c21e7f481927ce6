package io.starshard.codec;

/**
 * An encoding would exceed the space the caller allowed (for a map: what is left of the maximum entry size).
 *
 * <p>Thrown before the map is touched: the caller encodes into scratch space first. It carries both sizes so
 * that the map can name them in its own message.
 */
public class EncodingTooLargeException extends CodecException {
    private static final long serialVersionUID = 1L;

    /** {@link #requiredBytes()} when the codec stopped before knowing the full length (e.g. Kryo). */
    public static final long UNKNOWN_LENGTH = -1;

    private final long limitBytes;
    private final long requiredBytes;

    /**
     * Creates the exception.
     *
     * @param type          the class being encoded, for the message
     * @param limitBytes    the most bytes the encoding was allowed to take
     * @param requiredBytes the bytes it needs, or {@link #UNKNOWN_LENGTH}
     */
    public EncodingTooLargeException(Class<?> type, long limitBytes, long requiredBytes) {
        super(message(type, limitBytes, requiredBytes));
        this.limitBytes = limitBytes;
        this.requiredBytes = requiredBytes;
    }

    private static String message(Class<?> type, long limitBytes, long requiredBytes) {
        String needed = requiredBytes == UNKNOWN_LENGTH ? "more than " + limitBytes : Long.toString(requiredBytes);
        return "encoding of " + type.getName() + " needs " + needed + " bytes but at most " + limitBytes
            + " bytes are allowed (raise the maximum entry size or store a smaller value)";
    }

    /**
     * The most bytes the encoding was allowed to take.
     *
     * @return the limit in bytes
     */
    public long limitBytes() {
        return limitBytes;
    }

    /**
     * The bytes the encoding needs, when the codec knew it.
     *
     * @return the required length, or {@link #UNKNOWN_LENGTH}
     */
    public long requiredBytes() {
        return requiredBytes;
    }
}
