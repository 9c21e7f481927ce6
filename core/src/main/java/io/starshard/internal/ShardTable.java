package io.starshard.internal;

import io.starshard.MemoryStats;
import io.starshard.ShardStats;
import io.starshard.offheap.EpochDomain;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentSpec;
import io.starshard.offheap.SegmentStats;
import org.agrona.ExpandableArrayBuffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;

/**
 * The shards of one map: the shard array, routing of a hash to its shard, lazy creation, the entry count, the
 * closed flag and {@link #close}.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Routing.</b> The high 32 bits of a key's hash pick the shard by multiply-shift
 *       ({@link KeyHasher#shardIndex}); the segment uses the low bits, so the two choices are independent.</li>
 *   <li><b>Lazy shards.</b> A shard is created by the first write routed to it (a CAS into the array); reads,
 *       removals of absent keys and statistics never create one.</li>
 *   <li><b>Close.</b> {@link #close} sets the flag, releases every segment under its write lock and waits for
 *       the epoch grace period, so on return every byte is freed. Every operation checks the flag after it has
 *       entered a read section or taken a lock, so it either completes before the memory is released or throws
 *       {@code IllegalStateException}; a shard created while {@code close} runs frees itself.</li>
 *   <li><b>Re-entrancy.</b> User code that runs under a shard lock (compute functions, retain predicates) must
 *       not use the same map: {@link #context()} refuses instead of deadlocking.</li>
 * </ul>
 */
final class ShardTable {
    private static final System.Logger LOG = System.getLogger("io.starshard.ShardedHashMap");
    private static final Cleaner LEAK_CLEANER = Cleaner.create();
    private static final VarHandle SHARDS = MethodHandles.arrayElementVarHandle(Shard[].class);

    private final Shard[] shards;
    private final int shardCount;
    private final SegmentSpec spec;
    private final OffHeapMemory memory;
    private final EpochDomain epochs = EpochDomain.shared();
    /** Live entries; updated under the shard locks, so exact whenever no write is in flight. */
    private final LongAdder size = new LongAdder();
    private volatile boolean closed;
    /** Why the map was closed, for the message of every later call. */
    private volatile String closedMessage = "map is closed";

    ShardTable(int shardCount, SegmentSpec spec, OffHeapMemory memory) {
        this.shardCount = shardCount;
        this.spec = spec;
        this.memory = memory;
        this.shards = new Shard[shardCount];
    }

    int shardCount() {
        return shardCount;
    }

    OffHeapMemory memory() {
        return memory;
    }

    SegmentSpec spec() {
        return spec;
    }

    // =========================================================================================================
    // Open/closed, re-entrancy
    // =========================================================================================================

    boolean isClosed() {
        return closed;
    }

    /** @throws IllegalStateException if the map is closed */
    void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    IllegalStateException closedException() {
        return new IllegalStateException(closedMessage);
    }

    /**
     * What to throw for an {@code IllegalStateException} raised while reading: a segment released by a racing
     * {@link #close} says "segment is closed", which the caller should see as the map's own message.
     */
    RuntimeException closedOr(IllegalStateException e) {
        return closed ? closedException() : e;
    }

    /** The calling thread's context, after refusing re-entry from a function running under one of these locks. */
    ThreadContext context() {
        final ThreadContext ctx = ThreadContext.current();
        if (ctx.holdsLockOf(this)) {
            throw new IllegalStateException("a compute/merge/retain function must not use the map it runs on"
                + " (it runs under the shard's lock; re-entering would deadlock)");
        }
        return ctx;
    }

    /** {@link #context()} and {@link #checkOpen()}: the entry check of every operation that is not a key read. */
    ThreadContext openContext() {
        final ThreadContext ctx = context();
        checkOpen();
        return ctx;
    }

    // =========================================================================================================
    // Routing and locking
    // =========================================================================================================

    Shard shardAt(int index) {
        return (Shard) SHARDS.getAcquire(shards, index);
    }

    /** The shard {@code hash} routes to, or null if no write has created it yet. */
    Shard shardFor(long hash) {
        return shardAt(KeyHasher.shardIndex(hash, shardCount));
    }

    /**
     * Takes the write lock of the shard {@code hash} routes to, and checks that the map is open under it.
     * Pair with {@link #unlockWrite(Shard)} in {@code finally}.
     *
     * @param create whether to create the shard if it does not exist (a write that may insert)
     * @return the locked shard, or null if it does not exist and {@code create} is false
     * @throws IllegalStateException if the map is closed, or if called inside a read section (a writer there could
     *                               wait forever for a grace period that waits for this very section)
     */
    Shard lockForWrite(ThreadContext ctx, long hash, boolean create) {
        if (ctx.reader.inSection()) {
            throw new IllegalStateException("a shard lock must not be taken inside a read section");
        }
        final int index = KeyHasher.shardIndex(hash, shardCount);
        Shard shard = shardAt(index);
        if (shard == null) {
            if (!create) {
                checkOpen();
                return null;
            }
            shard = createShard(index);
        }
        shard.writeLock();
        if (closed) {
            shard.tryUnlockWrite();
            throw closedException();
        }
        return shard;
    }

    /** Releases a lock taken by {@link #lockForWrite}. */
    static void unlockWrite(Shard shard) {
        shard.tryUnlockWrite();
    }

    private Shard createShard(int index) {
        checkOpen();
        final Shard fresh = new Shard(new Segment(spec, memory, epochs));
        final Shard witness = (Shard) SHARDS.compareAndExchange(shards, index, null, fresh);
        if (witness != null) {
            fresh.segment.close();   // lost the race; never published
            return witness;
        }
        if (closed) {
            // close() may have scanned this index before our CAS: release ourselves (idempotent if it did not)
            // and free the memory before the caller's call returns with "map is closed": close() did not wait for
            // it, and retire() alone frees it only if no reader of any map is in a section right now.
            release(fresh);
            epochs.synchronize();
        }
        return fresh;
    }

    // =========================================================================================================
    // Entry count
    // =========================================================================================================

    /** Records an inserted entry; called under the entry's shard lock. */
    void added() {
        size.increment();
    }

    /** Records {@code count} removed entries; called under their shard lock. */
    void removed(int count) {
        size.add(-count);
    }

    /** Live entries: exact when no write is in flight; never negative. */
    long size() {
        return Math.max(0L, size.sum());
    }

    // =========================================================================================================
    // Whole-shard operations
    // =========================================================================================================

    /** Work on one segment under its shard's lock. */
    @FunctionalInterface
    interface SegmentTask {
        /**
         * @param index   the shard index
         * @param segment the shard's segment, locked for the duration of the call
         * @return a count the caller sums (entries removed, visited, ...)
         */
        long run(int index, Segment segment);
    }

    /**
     * Runs {@code task} on every existing shard in index order, each under its lock (write or read), checking
     * that the map is open under every lock. Per-shard consistent, not a snapshot of the whole map.
     *
     * @return the sum of the task's results
     */
    long forEachShard(boolean write, SegmentTask task) {
        checkOpen();   // also when no shard exists yet
        long sum = 0;
        for (int i = 0; i < shardCount; i++) {
            final Shard shard = shardAt(i);
            if (shard != null) {
                sum += onShard(shard, i, write, task);
            }
        }
        return sum;
    }

    /** Runs {@code task} on shard {@code index} under its read lock; 0 if the shard does not exist. */
    long onShard(int index, SegmentTask task) {
        checkOpen();
        final Shard shard = shardAt(index);
        return shard == null ? 0 : onShard(shard, index, false, task);
    }

    private long onShard(Shard shard, int index, boolean write, SegmentTask task) {
        final long stamp = write ? shard.writeLock() : shard.readLock();
        try {
            checkOpen();
            return task.run(index, shard.segment);
        } finally {
            shard.unlock(stamp);
        }
    }

    /**
     * Copies every entry of shard {@code index} as exported records into {@code out}, under the shard's read lock.
     *
     * @return bytes written
     */
    int exportShard(int index, ExpandableArrayBuffer out) {
        return (int) onShard(index,
            (i, segment) -> Segment.exportBytes(segment.exportRange(0, Integer.MAX_VALUE, out, 0, Integer.MAX_VALUE - 16)));
    }

    // =========================================================================================================
    // Stats and invariants
    // =========================================================================================================

    /**
     * Entries per shard, in shard order; 0 for shards not created yet.
     *
     * @return a new array
     */
    long[] perShardLoad() {
        final long[] loads = new long[shardCount];
        forEachShard(false, (index, segment) -> loads[index] = segment.size());
        return loads;
    }

    /**
     * Shards whose storage exists.
     *
     * @return the count
     */
    int initializedShards() {
        int n = 0;
        for (int i = 0; i < shardCount; i++) {
            if (shardAt(i) != null) {
                n++;
            }
        }
        return n;
    }

    /**
     * The spread of entries over shards.
     *
     * @return the stats
     */
    ShardStats shardStats() {
        final long[] loads = perShardLoad();
        final int initialized = initializedShards();
        final long total = Arrays.stream(loads).sum();
        final long max = Arrays.stream(loads).max().orElse(0);
        final int empty = (int) Arrays.stream(loads).filter(load -> load == 0).count();
        return new ShardStats(loads.length, initialized, empty, (double) total / loads.length, max);
    }

    /**
     * Off-heap memory; also answers after close (then everything has been freed).
     *
     * @return the stats
     */
    MemoryStats memoryStats() {
        if (closed) {
            return new MemoryStats(memory.usedBytes(), memory.budgetBytes(), memory.peakBytes(), 0, 0, 0, 0);
        }
        final long[] sums = new long[4];
        forEachShard(false, (index, segment) -> {
            final SegmentStats stats = segment.stats();
            sums[0] += stats.tableBytes();
            sums[1] += stats.arenaBytes();
            sums[2] += stats.liveEntryBytes();
            sums[3] += stats.entries();
            return 0;
        });
        return new MemoryStats(memory.usedBytes(), memory.budgetBytes(), memory.peakBytes(), sums[0], sums[1],
            sums[2], sums[3]);
    }

    /**
     * Checks the map's invariants: each segment's own, every entry in the shard its hash routes to, and the entry
     * count equal to the segments' sizes. For tests; requires no concurrent writer for the count check.
     *
     * @throws IllegalStateException on the first violation
     */
    void checkInvariants() {
        if (closed) {
            final long used = memory.usedBytes();
            if (used != 0) {
                throw new IllegalStateException("closed map still holds " + used + " off-heap bytes");
            }
            return;
        }
        final long entries = forEachShard(false, (index, segment) -> {
            segment.verifyInvariants();
            for (int slot = segment.nextFull(0); slot >= 0; slot = segment.nextFull(slot + 1)) {
                final int routed = KeyHasher.shardIndex(segment.hashAt(slot), shardCount);
                if (routed != index) {
                    throw new IllegalStateException("slot " + slot + " of shard " + index + " holds an entry that"
                        + " routes to shard " + routed);
                }
            }
            return segment.size();
        });
        if (entries != size()) {
            throw new IllegalStateException("the entry count is " + size() + " but the shards hold " + entries);
        }
    }

    /**
     * Registers {@code owner} (the public map) so that if it becomes unreachable without being closed, its
     * off-heap memory is freed and a warning names where it was created. The cleaning action holds this table,
     * never the owner, or the owner could never become unreachable.
     *
     * @param owner the object whose reachability is the map's
     */
    void registerLeakCleaner(Object owner) {
        final Throwable createdAt = new Throwable("the unclosed map was created here");
        final ShardTable table = this;
        LEAK_CLEANER.register(owner, () -> {
            if (!table.isClosed()) {
                LOG.log(System.Logger.Level.WARNING, "a ShardedHashMap was not closed and became unreachable;"
                    + " its off-heap memory is freed now. Close maps (try-with-resources) to free memory promptly.",
                    createdAt);
                table.close("map was not closed and became unreachable; the leak cleaner freed its memory");
            }
        });
    }

    // =========================================================================================================
    // Close
    // =========================================================================================================

    /**
     * Frees all off-heap memory; idempotent. A concurrent second call returns only once the first has freed
     * everything, so on return of every call the accounting is zero (but for a shard being created concurrently,
     * which frees itself before the call creating it returns).
     *
     * @param message what every later call of the map throws
     * @throws IllegalStateException if called from a function running under one of this map's locks
     */
    void close(String message) {
        if (ThreadContext.current().holdsLockOf(this)) {
            throw new IllegalStateException("close() called from a function running under this map's lock");
        }
        synchronized (shards) {
            if (closed) {
                return;
            }
            closedMessage = message;   // written before the flag: whoever sees the flag sees the message
            closed = true;
            for (int i = 0; i < shardCount; i++) {
                final Shard shard = shardAt(i);
                if (shard != null) {
                    release(shard);
                }
            }
            // Optimistic readers that entered before `closed` was set may still be reading: wait for them.
            epochs.synchronize();
        }
    }

    private static void release(Shard shard) {
        final long stamp = shard.writeLock();
        try {
            shard.segment.release();
        } finally {
            shard.unlockWrite(stamp);
        }
    }
}
