package io.starshard.offheap;

/**
 * An entry's key and value together exceed the maximum entry size of the structure it was written to.
 *
 * <p>Thrown before anything is modified; the message names both sizes so the caller knows by how much.
 */
public final class EntryTooLargeException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final long entryBytes;
    private final long maxEntryBytes;

    /**
     * Creates the exception.
     *
     * @param keyBytes      encoded key length
     * @param valueBytes    encoded value length
     * @param maxEntryBytes the limit on key plus value
     */
    public EntryTooLargeException(long keyBytes, long valueBytes, long maxEntryBytes) {
        super("entry of " + (keyBytes + valueBytes) + " bytes (key " + keyBytes + " + value " + valueBytes
            + ") exceeds the maximum entry size of " + maxEntryBytes
            + " bytes (configure a larger maxEntryBytes or store smaller values)");
        this.entryBytes = keyBytes + valueBytes;
        this.maxEntryBytes = maxEntryBytes;
    }

    /**
     * Creates the exception with a caller's message, for when the exact size is unknown (a codec that stops
     * writing at the limit).
     *
     * @param message       what was too large, naming both sizes
     * @param entryBytes    the entry size, or a lower bound of it
     * @param maxEntryBytes the limit it exceeded
     */
    public EntryTooLargeException(String message, long entryBytes, long maxEntryBytes) {
        super(message);
        this.entryBytes = entryBytes;
        this.maxEntryBytes = maxEntryBytes;
    }

    /**
     * Key plus value bytes of the rejected entry (a lower bound if the codec stopped at the limit).
     *
     * @return entry bytes
     */
    public long entryBytes() {
        return entryBytes;
    }

    /**
     * The limit it exceeded.
     *
     * @return maximum entry bytes
     */
    public long maxEntryBytes() {
        return maxEntryBytes;
    }
}
