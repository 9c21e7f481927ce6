package io.starshard.offheap;

/**
 * An off-heap allocation would exceed the memory budget, or the operating system refused it.
 *
 * <p>Thrown before the structure that asked for memory changed anything, so the caller can catch it, free
 * entries or raise the budget, and carry on with a consistent map.
 */
public final class OffHeapMemoryExhaustedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long budgetBytes;
    private final long requestedBytes;
    private final long usedBytes;

    OffHeapMemoryExhaustedException(String message, long budgetBytes, long requestedBytes, long usedBytes) {
        super(message);
        this.budgetBytes = budgetBytes;
        this.requestedBytes = requestedBytes;
        this.usedBytes = usedBytes;
    }

    /**
     * The same failure with {@code detail} appended to the message: what the structure that was refused held, for
     * a caller that knows more than the accountant (a segment's live and free bytes, the map's totals).
     *
     * @param detail text appended after "; "
     * @return a new exception with the same numbers, this one as its cause
     */
    public OffHeapMemoryExhaustedException withDetail(String detail) {
        final OffHeapMemoryExhaustedException e = new OffHeapMemoryExhaustedException(getMessage() + "; " + detail,
            budgetBytes, requestedBytes, usedBytes);
        e.initCause(this);
        return e;
    }

    /**
     * The configured budget.
     *
     * @return the budget in bytes, {@link OffHeapMemory#UNLIMITED} if none
     */
    public long budgetBytes() {
        return budgetBytes;
    }

    /**
     * The size of the allocation that failed.
     *
     * @return requested bytes
     */
    public long requestedBytes() {
        return requestedBytes;
    }

    /**
     * Bytes in use when the allocation failed.
     *
     * @return used bytes
     */
    public long usedBytes() {
        return usedBytes;
    }
}
