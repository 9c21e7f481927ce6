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

    /** Most bytes kept back for compaction: see {@link #compactionReserveBytes()}. */
    static final long MAX_COMPACTION_RESERVE = 256 * 1024;

    private final long budgetBytes;
    private final long compactionReserve;
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
        this.compactionReserve = budgetBytes == UNLIMITED ? 0 : Math.min(MAX_COMPACTION_RESERVE, budgetBytes / 64);
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
     * The part of the budget that only compaction may use: {@code min(256 KiB, budget / 64)}, 0 without a budget.
     *
     * <p>Why: compaction copies the live entries of sparse chunks into a new one before it frees them, so it
     * needs memory exactly when the budget is full. Ordinary allocations stop this much short of the budget, so
     * that compaction can always make progress; the budget itself is never exceeded.
     *
     * @return reserved bytes
     */
    public long compactionReserveBytes() {
        return compactionReserve;
    }

    /**
     * Bytes an ordinary allocation could still take (or, {@code forCompaction}, a compaction's).
     *
     * @param forCompaction whether the compaction reserve counts
     * @return bytes, {@link Long#MAX_VALUE} without a budget
     */
    long availableBytes(boolean forCompaction) {
        if (budgetBytes == UNLIMITED) {
            return Long.MAX_VALUE;
        }
        return Math.max(0, budgetBytes - (forCompaction ? 0 : compactionReserve) - usedBytes.get());
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
        return allocate(bytes, purpose, false);
    }

    /**
     * {@link #allocate(long, String)}, for compaction when {@code forCompaction}: it may use the reserve.
     *
     * @param bytes         size, positive
     * @param purpose       what the memory is for, named in the exception message
     * @param forCompaction whether the compaction reserve may be used
     * @return the address of the new block (uninitialised)
     * @throws OffHeapMemoryExhaustedException if the budget or the operating system refuses
     */
    long allocate(long bytes, String purpose, boolean forCompaction) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("allocation size must be positive, was " + bytes);
        }
        final long limit = budgetBytes - (forCompaction ? 0 : compactionReserve);
        long used;
        do {
            used = usedBytes.get();
            if (bytes > limit - used) {
                throw new OffHeapMemoryExhaustedException("off-heap memory budget of " + budgetBytes
                    + " bytes exceeded: " + purpose + " needs " + bytes + " bytes while " + used
                    + " are in use" + (forCompaction || compactionReserve == 0 ? "" : " and " + compactionReserve
                    + " are kept for compaction") + " (raise the budget, remove entries, or close unused maps)",
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

    /**
     * The JVM flag the off-heap access needs: Agrona, through which all raw memory access goes, uses
     * {@code jdk.internal.misc.Unsafe}, which {@code java.base} does not export by default.
     */
    public static final String REQUIRED_JVM_FLAG = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";

    /**
     * Fails fast, with one message that says what to do, when this JVM does not grant the raw memory access
     * every map needs. Without the check a map could be built and read while empty and would then fail at its
     * first write with an {@code IllegalAccessError} from inside Agrona, and at every write after with
     * {@code NoClassDefFoundError}.
     *
     * @throws IllegalStateException if raw memory access is not available; the message names the flag and how
     *                               to pass it
     */
    public static void requireMemoryAccess() {
        final Throwable problem = AccessProbe.PROBLEM;
        if (problem != null) {
            throw new IllegalStateException("Starshard needs the JVM flag " + REQUIRED_JVM_FLAG
                + " (its off-heap memory access goes through Agrona, which uses jdk.internal.misc.Unsafe)."
                + " Pass it to the JVM that runs the map: on the java command line; for Maven tests in the"
                + " surefire/failsafe <argLine>; for mvn exec:exec in <commandlineArgs>, for mvn exec:java in"
                + " MAVEN_OPTS; for Gradle in jvmArgs (tests: test { jvmArgs '" + REQUIRED_JVM_FLAG + "' });"
                + " in an executable jar as the manifest entry 'Add-Exports: java.base/jdk.internal.misc'. On the"
                + " module path export to org.agrona instead of ALL-UNNAMED. Cause: " + problem, problem);
        }
    }

    /** Tries raw memory access once per JVM; the outcome cannot change while the JVM runs. */
    private static final class AccessProbe {
        static final Throwable PROBLEM = probe();

        private static Throwable probe() {
            try {
                MemoryAccess.free(MemoryAccess.allocate(8));
                return null;
            } catch (LinkageError | RuntimeException e) {
                return e;
            }
        }
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
