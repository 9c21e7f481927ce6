package io.starshard.codec;

/**
 * A value could not be encoded, or a byte region could not be decoded.
 *
 * <p>Unchecked, like the map's other usage errors: a caller of {@code map.put} should not have to catch a
 * checked exception for a codec that, when configured correctly, never fails.
 */
public class CodecException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception with a message that says what failed and, where possible, what to do.
     *
     * @param message the detail message
     */
    public CodecException(String message) {
        super(message);
    }

    /**
     * Creates an exception that wraps the failure of an underlying serializer.
     *
     * @param message the detail message
     * @param cause   the underlying failure
     */
    public CodecException(String message, Throwable cause) {
        super(message, cause);
    }
}
