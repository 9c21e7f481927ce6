package io.starshard.offheap;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Allocates and accounts every off-heap byte of one map, under an optional budget.
 *
 * <p>Why a budget object rather than plain {@code malloc}: users size machines by the memory their caches may
 * take. Every allocation reserves its bytes here first, so an allocation past the budget fails with
 * {@link OffHeapMemoryExhaustedException} before anything is modified, and {@link #usedBytes()} is the exact
 * number of bytes the map holds (including memory retired by growth and not yet reclaimed). After a map is
 * closed it returns to zero; tests check that.
 *
 * <p>Thread-safe. Allocation is off the hot path (table growth, new arena chunks), so a CAS loop is fine.
 */
public final class OffHeapMemory {
    /** Budget value meaning "no limit other than what the operating system grants". */
    public static final long UNLIMITED = Long.MAX_VALUE;

    private final long budgetBytes;
    private final AtomicLong usedBytes = new AtomicLong();
    private final AtomicLong liveAllocations = new AtomicLong();
    private final AtomicLong peakBytes = new AtomicLong();

    /**
     * Creates an accountant with a budget.
     *
     * @param budgetBytes the most bytes that may be allocated at once, or {@link #UNLIMITED}
     * @throws IllegalArgumentException if {@code budgetBytes} is not positive
     */
    public OffHeapMemory(long budgetBytes) {
        if (budgetBytes <= 0) {
            throw new IllegalArgumentException("budgetBytes must be positive (or OffHeapMemory.UNLIMITED), was "
                + budgetBytes);
        }
        this.budgetBytes = budgetBytes;
    }

    /**
     * Creates an accountant without a budget.
     *
     * @return a new unlimited accountant
     */
    public static OffHeapMemory unlimited() {
        return new OffHeapMemory(UNLIMITED);
    }

    /**
     * The configured budget.
     *
     * @return bytes, or {@link #UNLIMITED}
     */
    public long budgetBytes() {
        return budgetBytes;
    }

    /**
     * Bytes currently allocated, including memory waiting for readers to leave before it is freed.
     *
     * @return allocated bytes
     */
    public long usedBytes() {
        return usedBytes.get();
    }

    /**
     * The highest {@link #usedBytes()} seen.
     *
     * @return peak bytes
     */
    public long peakBytes() {
        return peakBytes.get();
    }

    /**
     * Number of allocations not yet freed; zero after every structure using this accountant is closed.
     *
     * @return live allocation count
     */
    public long liveAllocations() {
        return liveAllocations.get();
    }

    /**
     * Reserves {@code bytes} against the budget and allocates them.
     *
     * @param bytes   size, positive
     * @param purpose what the memory is for, named in the exception message
     * @return the address of the new block (uninitialised)
     * @throws OffHeapMemoryExhaustedException if the budget or the operating system refuses
     */
    long allocate(long bytes, String purpose) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("allocation size must be positive, was " + bytes);
        }
        long used;
        do {
            used = usedBytes.get();
            if (bytes > budgetBytes - used) {
                throw new OffHeapMemoryExhaustedException("off-heap memory budget of " + budgetBytes
                    + " bytes exceeded: " + purpose + " needs " + bytes + " bytes while " + used
                    + " are in use (raise the budget, remove entries, or close unused maps)",
                    budgetBytes, bytes, used);
            }
        } while (!usedBytes.compareAndSet(used, used + bytes));
        final long address;
        try {
            address = MemoryAccess.allocate(bytes);
        } catch (OutOfMemoryError e) {
            usedBytes.addAndGet(-bytes);
            throw new OffHeapMemoryExhaustedException("the operating system refused " + bytes + " bytes of native"
                + " memory for " + purpose + " (" + e.getMessage() + ")", budgetBytes, bytes, used);
        }
        liveAllocations.incrementAndGet();
        peakBytes.accumulateAndGet(used + bytes, Math::max);
        return address;
    }

    /** Frees a block returned by {@link #allocate} and releases its reservation. */
    void free(long address, long bytes) {
        MemoryAccess.free(address);
        liveAllocations.decrementAndGet();
        usedBytes.addAndGet(-bytes);
    }

    @Override
    public String toString() {
        return "OffHeapMemory{used=" + usedBytes() + ", budget=" + (budgetBytes == UNLIMITED ? "unlimited" : budgetBytes)
            + ", liveAllocations=" + liveAllocations() + '}';
    }
}
