package io.starshard;

/**
 * A multi-entry write ({@code putAll}, {@code batchInsert}) stopped part-way.
 *
 * <p>Batch writes are not atomic: entries are written one by one, each atomically. When one fails (memory
 * budget reached, entry too large, codec failure) the entries before it stay written, the failing one and the
 * ones after it are not, and every other entry of the map is untouched. This exception says exactly where it
 * stopped; its cause is the failure of the entry at {@link #failedIndex()}.
 */
public final class BatchWriteException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int appliedCount;
    private final int failedIndex;

    /**
     * Creates the exception.
     *
     * @param operation    the method that failed, for the message
     * @param appliedCount entries written before the failure
     * @param failedIndex  position (in iteration order of the input) of the entry that failed
     * @param total        entries in the input, or -1 if unknown
     * @param cause        the failure of that entry
     */
    public BatchWriteException(String operation, int appliedCount, int failedIndex, int total, RuntimeException cause) {
        super(operation + " stopped at input entry #" + failedIndex + ": " + appliedCount + " of "
            + (total < 0 ? "?" : Integer.toString(total)) + " entries were written, the rest were not ("
            + cause.getMessage() + ")", cause);
        this.appliedCount = appliedCount;
        this.failedIndex = failedIndex;
    }

    /**
     * Entries written before the failure.
     *
     * @return the applied count
     */
    public int appliedCount() {
        return appliedCount;
    }

    /**
     * Position of the entry that failed, in the iteration order of the input.
     *
     * @return the failed index
     */
    public int failedIndex() {
        return failedIndex;
    }
}
