package io.starshard.internal;

import io.starshard.MemoryStats;
import io.starshard.ShardMemoryStats;
import io.starshard.ShardStats;
import io.starshard.internal.ThreadContext.Frame;
import io.starshard.offheap.EpochDomain;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.OffHeapMemoryExhaustedException;
import io.starshard.offheap.RecordDescriptor;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentSpec;
import io.starshard.offheap.SegmentStats;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * The shards of one map: the shard arrays and their routing, lazy creation, the entry count, the closed flag and
 * {@link #close}, whole-map operations shard range by shard range, stats and invariants.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Layout.</b> Everything routes through one immutable {@link Layout}: the active shard array and, while
 *       a rebalance runs, the {@link Migration} with the previous array. A change of layout (a rebalance starting
 *       or finishing) publishes a new object, so a reader or writer always sees a consistent pair; each operation
 *       checks after its read or under its lock that the layout is still the one it routed by, and otherwise
 *       routes again.</li>
 *   <li><b>Routing.</b> The high 32 bits of a key's hash pick the shard by multiply-shift
 *       ({@link KeyHasher#shardIndex}); the segment uses the low bits, so the two choices are independent. Shard
 *       ranges are contiguous in the hash space ({@link KeyHasher#shardStart}), which is what lets whole-map
 *       operations and iterators walk the map by hash range, unaffected by a change of shard count.</li>
 *   <li><b>During a rebalance</b> a key is either in its previous shard or in its active one, never both. A
 *       writer locks the previous shard first, moves the key (as raw bytes) into the active shard if it is still
 *       there, then works on the active shard alone: the write core never sees a migration. A reader looks in the
 *       previous shard first, then in the active one; since keys only ever move from previous to active, that
 *       order cannot miss a key that is present throughout the read. Locks are always taken previous before
 *       active, and at most one active shard at a time by writers and movers, so no two threads wait for each
 *       other in a cycle.</li>
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
    /** The end of the hash space, as routing bits: {@code KeyHasher.shardStart(count, count)}. */
    static final long ROUTING_END = 1L << 32;

    private static final System.Logger LOG = System.getLogger("io.starshard.ShardedHashMap");
    private static final Cleaner LEAK_CLEANER = Cleaner.create();
    private static final VarHandle SHARDS = MethodHandles.arrayElementVarHandle(Shard[].class);

    /** The shard arrays everything routes by; replaced as a whole when a rebalance starts or finishes. */
    static final class Layout {
        final Shard[] active;
        final int count;
        /** The rebalance in progress, or null. */
        final Migration migration;
        /** How this layout's shards are created: presized for their share of the expected entries. */
        final SegmentSpec spec;

        Layout(Shard[] active, Migration migration, SegmentSpec spec) {
            this.active = active;
            this.count = active.length;
            this.migration = migration;
            this.spec = spec;
        }
    }

    /** The slot format and limits of every segment; the initial capacity depends on the shard count. */
    private final SegmentSpec baseSpec;
    /** Entries the map was presized for, or 0. */
    private final long expectedEntries;
    private final OffHeapMemory memory;
    private final EpochDomain epochs = EpochDomain.shared();
    /** Serialises the layout changes with each other and with {@link #close}. */
    final Object lifecycle = new Object();
    private volatile Layout layout;
    /** Live entries; updated under the shard locks, so exact whenever no write is in flight. */
    private final LongAdder size = new LongAdder();
    private volatile boolean closed;
    /** Why the map was closed, for the message of every later call. */
    private volatile String closedMessage = "map is closed";

    ShardTable(int shardCount, SegmentSpec baseSpec, long expectedEntries, OffHeapMemory memory) {
        this.baseSpec = baseSpec;
        this.expectedEntries = expectedEntries;
        this.memory = memory;
        this.layout = new Layout(new Shard[shardCount], null, specFor(shardCount));
    }

    /** The segment spec of a layout of {@code shardCount} shards: each presized for its share. */
    SegmentSpec specFor(int shardCount) {
        return baseSpec.withInitialEntries(initialEntriesPerShard(expectedEntries, shardCount));
    }

    /** Entries a shard's first table holds: the expected share plus four standard deviations of slack. */
    static int initialEntriesPerShard(long expectedEntries, int shardCount) {
        if (expectedEntries <= 0) {
            return SegmentSpec.DEFAULT_INITIAL_ENTRIES;
        }
        final double share = (double) expectedEntries / shardCount;
        return (int) Math.min(Integer.MAX_VALUE / 2, Math.ceil(share + 4 * Math.sqrt(share) + 8));
    }

    Layout layout() {
        return layout;
    }

    /** Publishes a new layout; called by the rebalancer under {@link #lifecycle}. */
    void publish(Layout next) {
        layout = next;
    }

    int shardCount() {
        return layout.count;
    }

    OffHeapMemory memory() {
        return memory;
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

    static Shard shardAt(Shard[] shards, int index) {
        return (Shard) SHARDS.getAcquire(shards, index);
    }

    /** The active shard {@code hash} routes to under {@code l}, or null if no write has created it yet. */
    static Shard activeFor(Layout l, long hash) {
        return shardAt(l.active, KeyHasher.shardIndex(hash, l.count));
    }

    /**
     * Takes the write lock of the active shard the key in {@code f} routes to, and checks under it that the map is
     * open and the layout unchanged. During a rebalance, first moves the key from its previous shard if it is
     * still there, so that the caller finds every key of its shard in the active segment. Pair with
     * {@link #unlockWrite(Shard)} in {@code finally}.
     *
     * @param create whether to create the shard if it does not exist (a write that may insert)
     * @return the locked shard, or null if it does not exist, {@code create} is false and the key is nowhere
     * @throws IllegalStateException if the map is closed, or if called inside a read section (a writer there could
     *                               wait forever for a grace period that waits for this very section)
     * @throws io.starshard.offheap.OffHeapMemoryExhaustedException if moving the key needs memory the budget
     *                               refuses (nothing changed)
     */
    Shard lockForWrite(ThreadContext ctx, Frame f, boolean create) {
        if (ctx.reader.inSection()) {
            throw new IllegalStateException("a shard lock must not be taken inside a read section");
        }
        final boolean nonBlocking = ctx.nonBlockingFor == this;
        while (true) {
            final Layout l = layout;
            final Migration m = l.migration;
            final Shard previous = m == null ? null : m.previousFor(f.hash);
            final Shard locked = previous == null ? lockActive(l, f.hash, create, nonBlocking)
                : lockMovingKey(l, m, previous, f, create, nonBlocking);
            if (locked != RETRY) {
                return locked;
            }
        }
    }

    /** Marks "the layout changed while locking: route again". */
    private static final Shard RETRY = new Shard(null);

    /** {@link #lockForWrite} when the key has no previous shard to come from. */
    private Shard lockActive(Layout l, long hash, boolean create, boolean nonBlocking) {
        final int index = KeyHasher.shardIndex(hash, l.count);
        Shard shard = shardAt(l.active, index);
        if (shard == null) {
            if (!create) {
                checkOpen();
                return layout == l ? null : RETRY;
            }
            shard = createShard(l, index);
        }
        shard.acquireWrite(nonBlocking);
        if (closed || layout != l) {
            shard.tryUnlockWrite();
            checkOpen();
            return RETRY;
        }
        return shard;
    }

    /** {@link #lockForWrite} during a rebalance: the key may still be in its previous shard. */
    private Shard lockMovingKey(Layout l, Migration m, Shard previous, Frame f, boolean create,
                                boolean nonBlocking) {
        previous.acquireWrite(nonBlocking);
        try {
            if (closed || layout != l) {
                checkOpen();
                return RETRY;
            }
            final Segment from = previous.segment;
            final int slot = previous.drained ? Segment.NOT_FOUND : from.find(f.hash, f.key, 0, f.keyLength);
            if (slot < 0) {
                return lockActive(l, f.hash, create, nonBlocking);   // not here: the previous lock is not needed
            }
            final int index = KeyHasher.shardIndex(f.hash, l.count);
            final Shard existing = shardAt(l.active, index);
            final Shard active = existing != null ? existing : createShard(l, index);
            active.acquireWrite(nonBlocking);   // outside the try: on WouldBlock there is nothing of ours to unlock
            try {
                checkOpen();   // close() may have released the active shard before this lock
                final int valueLength = from.readValue(slot, f.read, 0);
                active.segment.insert(f.hash, f.key, 0, f.keyLength, f.read, 0, valueLength);
                from.removeAt(slot);
                m.moved(f.keyLength, valueLength);
                markIfDrained(previous);
                return active;
            } catch (RuntimeException | Error e) {
                active.tryUnlockWrite();   // insert refused (budget): nothing moved
                throw e;
            }
        } finally {
            previous.tryUnlockWrite();
        }
    }

    /** Under {@code previous}'s lock: a previous shard that has lost its last entry is drained for good. */
    static void markIfDrained(Shard previous) {
        if (previous.segment.size() == 0) {
            previous.drained = true;
        }
    }

    /**
     * Releases a lock taken by {@link #lockForWrite}, after one bounded step of memory maintenance if the write left
     * the segment with chunks worth emptying or a table worth shrinking ({@link Segment#maintain}): memory comes
     * back as the map is used, a little per write, never in one long pause.
     */
    static void unlockWrite(Shard shard) {
        try {
            final Segment segment = shard.segment;
            if (segment.maintenanceDue()) {
                segment.maintain();
            }
        } finally {
            shard.tryUnlockWrite();
        }
    }

    /** Steps one shard's explicit compaction may take; each empties at least one chunk or ends the shard's work. */
    private static final int MAX_COMPACTION_STEPS_PER_SHARD = 1 << 16;

    /**
     * Compacts every shard of the current array: empties every chunk at least an eighth free and shrinks
     * oversized tables, one bounded step at a time, each under its shard's write lock (released between two
     * steps, so writers and readers wait at most one step); then waits until the memory of the emptied chunks
     * has been freed.
     *
     * @return bytes of off-heap memory given back
     */
    long compact() {
        checkOpen();
        final long before = memory.usedBytes();
        final Layout l = layout;
        for (int i = 0; i < l.count; i++) {
            final Shard shard = shardAt(l.active, i);
            for (int step = 0; shard != null && step < MAX_COMPACTION_STEPS_PER_SHARD; step++) {
                shard.writeLock();
                final boolean more;
                try {
                    checkOpen();
                    more = !shard.segment.isClosed() && shard.segment.compact();
                } finally {
                    shard.tryUnlockWrite();
                }
                if (!more) {
                    break;
                }
            }
        }
        epochs.synchronize();
        return Math.max(0, before - memory.usedBytes());
    }

    /**
     * One maintenance step on every shard of the current array that has work due and whose write lock is free at
     * once ({@link CompactionAgent}).
     *
     * @return the number of steps run
     */
    int maintainIdleShards() {
        final Layout l = layout;
        int steps = 0;
        for (int i = 0; i < l.count && !closed; i++) {
            final Shard shard = shardAt(l.active, i);
            if (shard == null || !shard.segment.mayNeedMaintenance()) {
                continue;   // a racy look at a plain field; the step checks again under the lock
            }
            final long stamp = shard.tryWriteLock();
            if (stamp == 0) {
                continue;
            }
            try {
                if (!closed && !shard.segment.isClosed() && shard.segment.maintenanceDue()) {
                    shard.segment.maintain();
                    steps++;
                }
            } finally {
                shard.unlockWrite(stamp);
            }
        }
        return steps;
    }

    /**
     * The refusal of a write after {@link #compact} could not make room either: the same exception with what the
     * map holds.
     */
    OffHeapMemoryExhaustedException refusedAfterCompaction(OffHeapMemoryExhaustedException refused) {
        final MemoryStats m = memoryStats();
        return refused.withDetail("after compacting every shard the map holds " + m.entries() + " entries of "
            + m.liveEntryBytes() + " bytes in " + m.arenaBytes() + " bytes of arena chunks ("
            + m.freeArenaBytes() + " free) and " + m.tableBytes() + " bytes of tables");
    }

    /** The active shard at {@code index} of layout {@code l}, created if needed. */
    Shard createShard(Layout l, int index) {
        return createShard(l, index, 0);
    }

    /**
     * {@link #createShard(Layout, int)} for a shard about to receive about {@code firstTableEntries} entries at
     * once (a rebalance, a load): its first table is sized for them (see {@link Segment#Segment(SegmentSpec,
     * OffHeapMemory, EpochDomain, int)}).
     */
    Shard createShard(Layout l, int index, int firstTableEntries) {
        checkOpen();
        final Shard fresh = new Shard(new Segment(l.spec, memory, epochs, firstTableEntries));
        final Shard witness = (Shard) SHARDS.compareAndExchange(l.active, index, null, fresh);
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
    // Whole-map operations, shard range by shard range
    // =========================================================================================================

    /** Work on the entries of one segment whose routing bits lie in a range, under the segment's shard lock. */
    @FunctionalInterface
    interface RangeTask {
        /**
         * @param segment     a segment of the group, locked for the duration of the call
         * @param routingFrom first routing value (high 32 hash bits) to act on
         * @param routingTo   end of the routing values to act on; the segment may hold entries outside the range
         *                    (a previous segment of a rebalance), which the task must leave alone
         * @param whole       whether every entry of the segment routes into the range (an active shard's whole
         *                    range), so the task may skip its per-entry routing test
         * @return a count the caller sums
         */
        long run(Segment segment, long routingFrom, long routingTo, boolean whole);
    }

    /** Whether {@code hash}'s routing bits lie in {@code [routingFrom, routingTo)}. */
    static boolean routesInto(long hash, long routingFrom, long routingTo) {
        final long routing = KeyHasher.routingBits(hash);
        return routing >= routingFrom && routing < routingTo;
    }

    /** Marks "the layout changed before the group was locked". */
    static final long STALE = Long.MIN_VALUE;

    /**
     * Runs {@code task} on every entry of the map, one active shard's range at a time: for each range, under the
     * locks of the active shard and of the previous shards that feed it (previous first, in index order), so the
     * task sees every key of the range exactly once even while a rebalance moves keys. Per-range consistent, not
     * a snapshot of the whole map. A range whose shards do not exist is skipped.
     *
     * @return the sum of the task's results
     */
    long forEachRange(boolean write, RangeTask task) {
        return forEachRange(write, 0, ROUTING_END, task);
    }

    /** {@link #forEachRange(boolean, RangeTask)} over the routing values in {@code [from, to)} only. */
    long forEachRange(boolean write, long from, long to, RangeTask task) {
        checkOpen();   // also when no shard exists yet
        long sum = 0;
        long boundary = from;
        while (boundary < to) {
            final Layout l = layout;
            final int index = (int) ((boundary * l.count) >>> 32);
            final long end = Math.min(to, KeyHasher.shardStart(index + 1, l.count));
            final long result = onRange(l, index, boundary, end, write, task);
            if (result != STALE) {
                sum += result;
                boundary = end;
            }
        }
        return sum;
    }

    /**
     * Exports, as records, every entry whose routing bits are in {@code [boundary, end of its active shard's range)}
     * (and below {@code limit}) into {@code out} from offset 0. The iterators' step: resuming at a hash position, not at a shard index, stays
     * exact when the shard count changes between two steps.
     *
     * @return the next boundary (up to {@link #ROUTING_END}) {@code << 31 | bytes written}
     */
    long exportFrom(long boundary, long limit, ExpandableArrayBuffer out) {
        final int[] written = new int[1];
        while (true) {
            final Layout l = layout;
            final int index = (int) ((boundary * l.count) >>> 32);
            final long end = Math.min(limit, KeyHasher.shardStart(index + 1, l.count));
            written[0] = 0;
            final long result = onRange(l, index, boundary, end, false, (segment, from, to, whole) -> {
                final long r = segment.exportRange(0, Integer.MAX_VALUE, out, written[0],
                    Integer.MAX_VALUE - 16 - written[0], whole ? 0 : from, whole ? ROUTING_END : to);
                written[0] += Segment.exportBytes(r);
                return 0;
            });
            if (result != STALE) {
                return end << 31 | written[0];
            }
        }
    }

    /** Work on the locked group of one shard range: the previous shards that feed it, then its active shard. */
    @FunctionalInterface
    interface GroupTask {
        /**
         * @param group         the previous shards feeding the range (index order), then the active shard; entries
         *                      are null for shards that do not exist or are drained; all others are locked
         * @param previousCount how many of {@code group} are previous shards
         * @param whole         whether the range covers the whole active shard
         * @return a result other than {@link #STALE}
         */
        long run(Shard[] group, int previousCount, boolean whole);
    }

    /**
     * Puts checked records (a loaded file's) into their shards, each run of records bound for one shard under that
     * shard's write lock; a key already present gets the record's value. Requires a map no rebalance runs in.
     *
     * @param records   records whose lengths and hashes were checked
     * @param offset    where they start
     * @param length       their total length
     * @param totalEntries entries the whole import brings, to size each new shard's first table for its share
     */
    void importRecords(DirectBuffer records, int offset, int length, long totalEntries) {
        final Layout l = layout;
        if (l.migration != null) {
            throw new IllegalStateException("records are imported only into a map no rebalance runs in");
        }
        int at = offset;
        final int end = offset + length;
        while (at < end) {
            final int index = KeyHasher.shardIndex(RecordDescriptor.hash(records, at), l.count);
            int runEnd = at;
            while (runEnd < end && KeyHasher.shardIndex(RecordDescriptor.hash(records, runEnd), l.count) == index) {
                runEnd += RecordDescriptor.recordLength(RecordDescriptor.keyLength(records, runEnd),
                    RecordDescriptor.valueLength(records, runEnd));
            }
            final Shard existing = shardAt(l.active, index);
            final Shard shard = existing != null ? existing
                : createShard(l, index, initialEntriesPerShard(totalEntries, l.count));
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final int before = shard.segment.size();
                shard.segment.importRecords(records, at, runEnd - at);
                size.add(shard.segment.size() - before);
            } finally {
                shard.unlockWrite(stamp);
            }
            at = runEnd;
        }
    }

    /**
     * Locks the group of active shard {@code index} of {@code l} (the previous shards that feed it, in index order,
     * then the active shard) and runs {@code task} on each of its segments; or {@link #STALE} if the layout
     * changed before the group was locked. Drained and never-created shards are skipped.
     */
    private long onRange(Layout l, int index, long routingFrom, long routingTo, boolean write, RangeTask task) {
        return withGroupLocked(l, index, routingFrom, routingTo, write, (group, previousCount, whole) -> {
            long sum = 0;
            for (int k = 0; k < previousCount; k++) {
                if (group[k] != null) {
                    sum += task.run(group[k].segment, routingFrom, routingTo, false);
                    markIfDrained(group[k]);
                }
            }
            final Shard active = group[previousCount];
            if (active != null) {
                // Every entry of an active shard routes into its own range: a range that covers it all lets the task
                // skip its per-entry routing test.
                sum += task.run(active.segment, routingFrom, routingTo, whole);
            }
            return sum;
        });
    }

    /**
     * Locks the group of active shard {@code index} of {@code l} (read or write locks, previous shards first in
     * index order, then the active shard), checks that the map is open and the layout unchanged, and runs
     * {@code task} on the group; or returns {@link #STALE} if the layout changed before the group was locked.
     */
    long withGroupLocked(Layout l, int index, long routingFrom, long routingTo, boolean write, GroupTask task) {
        final Migration m = l.migration;
        final int first = m == null ? 0 : m.firstPreviousOverlapping(routingFrom);
        final int previousCount = m == null ? 0 : m.lastPreviousOverlapping(routingTo) - first + 1;
        final Shard[] group = new Shard[previousCount + 1];
        final long[] stamps = new long[previousCount + 1];
        for (int k = 0; k < previousCount; k++) {
            final Shard previous = shardAt(m.previous, first + k);
            group[k] = previous == null || previous.drained ? null : previous;
        }
        group[previousCount] = shardAt(l.active, index);
        int locked = 0;
        try {
            for (; locked < group.length; locked++) {
                final Shard shard = group[locked];
                if (shard != null) {
                    stamps[locked] = write ? shard.writeLock() : shard.readLock();
                }
            }
            checkOpen();
            if (layout != l) {
                return STALE;
            }
            final boolean whole = routingFrom <= KeyHasher.shardStart(index, l.count)
                && routingTo >= KeyHasher.shardStart(index + 1, l.count);
            return task.run(group, previousCount, whole);
        } finally {
            for (int k = locked - 1; k >= 0; k--) {
                if (group[k] != null) {
                    group[k].unlock(stamps[k]);
                }
            }
        }
    }

    // =========================================================================================================
    // Stats and invariants
    // =========================================================================================================

    /** Entries per active shard, counting the keys still in previous shards where they will go. */
    long[] perShardLoad() {
        while (true) {
            final Layout l = layout;
            final long[] loads = new long[l.count];
            boolean stale = false;
            for (int i = 0; i < l.count && !stale; i++) {
                final long load = onRange(l, i, KeyHasher.shardStart(i, l.count), KeyHasher.shardStart(i + 1, l.count),
                    false, (segment, from, to, whole) -> whole ? segment.size() : segment.entriesInRouting(from, to));
                stale = load == STALE;
                loads[i] = load;
            }
            if (!stale) {
                return loads;
            }
        }
    }

    /** Active shards whose storage exists. */
    int initializedShards() {
        final Layout l = layout;
        int n = 0;
        for (int i = 0; i < l.count; i++) {
            if (shardAt(l.active, i) != null) {
                n++;
            }
        }
        return n;
    }

    ShardStats shardStats() {
        final long[] loads = perShardLoad();
        long total = 0;
        long max = 0;
        int empty = 0;
        for (long load : loads) {
            total += load;
            max = Math.max(max, load);
            if (load == 0) {
                empty++;
            }
        }
        return new ShardStats(loads.length, initializedShards(), empty, (double) total / loads.length, max);
    }

    /** Off-heap memory over every segment, active and previous; answers after close too. */
    MemoryStats memoryStats() {
        if (closed) {
            return new MemoryStats(memory.usedBytes(), memory.budgetBytes(), memory.peakBytes(), 0, 0, 0, 0);
        }
        final long[] sums = new long[4];
        forEachSegment(segment -> {
            final SegmentStats stats = segment.stats();
            sums[0] += stats.tableBytes();
            sums[1] += stats.arenaBytes();
            sums[2] += stats.liveEntryBytes();
            sums[3] += stats.entries();
        });
        return new MemoryStats(memory.usedBytes(), memory.budgetBytes(), memory.peakBytes(), sums[0], sums[1],
            sums[2], sums[3]);
    }

    /**
     * Memory of each shard of the current array, each read under its shard's read lock; a shard not created yet
     * holds nothing. While a rebalance runs, the previous shards' memory is in {@link #memoryStats} only.
     */
    List<ShardMemoryStats> shardMemoryStats() {
        checkOpen();
        final Layout l = layout;
        final List<ShardMemoryStats> rows = new ArrayList<>(l.count);
        for (int i = 0; i < l.count; i++) {
            final SegmentStats[] stats = new SegmentStats[1];
            final Shard shard = shardAt(l.active, i);
            if (shard != null) {
                readLocked(shard, segment -> stats[0] = segment.stats());
            }
            final SegmentStats st = stats[0];
            rows.add(st == null ? new ShardMemoryStats(i, 0, 0, 0, 0, 0, 0)
                : new ShardMemoryStats(i, st.tableBytes(), st.arenaBytes(), st.liveEntryBytes(), st.entries(),
                    st.relocatedBytes(), st.longestMaintenanceStepNanos()));
        }
        return List.copyOf(rows);
    }

    /** Runs {@code action} on every existing segment of the current layout, each under its read lock. */
    private void forEachSegment(java.util.function.Consumer<Segment> action) {
        final Layout l = layout;
        final Migration m = l.migration;
        final Shard[][] arrays = m == null ? new Shard[][] {l.active} : new Shard[][] {m.previous, l.active};
        for (Shard[] shards : arrays) {
            for (int i = 0; i < shards.length; i++) {
                final Shard shard = shardAt(shards, i);
                if (shard != null) {
                    readLocked(shard, action);
                }
            }
        }
    }

    /** Runs {@code action} on {@code shard}'s segment under its read lock, unless that segment was released. */
    private void readLocked(Shard shard, java.util.function.Consumer<Segment> action) {
        final long stamp = shard.readLock();
        try {
            checkOpen();
            if (!shard.segment.isClosed()) {
                action.accept(shard.segment);
            }
        } finally {
            shard.unlockRead(stamp);
        }
    }

    /**
     * Checks every segment's own invariants, that every entry sits in the shard its hash routes to (its previous
     * shard during a rebalance, until it is moved), that no key of a previous shard is also in its active shard,
     * and that the entry count equals the segments' sizes. Needs a moment without writers for the count.
     */
    void checkInvariants() {
        if (closed) {
            final long used = memory.usedBytes();
            if (used != 0) {
                throw new IllegalStateException("closed map still holds " + used + " off-heap bytes");
            }
            return;
        }
        final long entries = forEachRange(false, (segment, from, to, whole) -> {
            segment.verifyInvariants();
            return segment.entriesInRouting(whole ? 0 : from, whole ? ROUTING_END : to);
        });
        checkRoutingOfEveryShard(layout);
        if (entries != size()) {
            throw new IllegalStateException("the entry count is " + size() + " but the shards hold " + entries);
        }
    }

    /**
     * Every entry of every active shard routes to it; every entry of a previous shard to that previous shard, and
     * its key is not also in the active shard it routes to.
     */
    private void checkRoutingOfEveryShard(Layout l) {
        final Migration m = l.migration;
        for (int pass = m == null ? 1 : 0; pass < 2; pass++) {
            final Shard[] shards = pass == 0 ? m.previous : l.active;
            for (int i = 0; i < shards.length; i++) {
                final Shard shard = shardAt(shards, i);
                if (shard == null) {
                    continue;
                }
                final long stamp = shard.readLock();
                try {
                    if (shard.segment.isClosed()) {
                        continue;
                    }
                    final long outside = shard.segment.size() - shard.segment.entriesInRouting(
                        KeyHasher.shardStart(i, shards.length), KeyHasher.shardStart(i + 1, shards.length));
                    if (outside != 0) {
                        throw new IllegalStateException(outside + " entries of " + (pass == 0 ? "previous" : "active")
                            + " shard " + i + " of " + shards.length + " route to another shard");
                    }
                    if (pass == 0) {
                        checkNotAlsoActive(l, shard.segment, i);
                    }
                } finally {
                    shard.unlockRead(stamp);
                }
            }
        }
    }

    /** Under previous shard {@code i}'s read lock: none of its keys is also in its active shard. */
    private void checkNotAlsoActive(Layout l, Segment previous, int i) {
        final ExpandableArrayBuffer key = new ExpandableArrayBuffer(64);
        for (int slot = previous.nextFull(0); slot >= 0; slot = previous.nextFull(slot + 1)) {
            final long hash = previous.hashAt(slot);
            final int keyLength = previous.readKey(slot, key, 0);
            final Shard active = activeFor(l, hash);
            if (active == null) {
                continue;
            }
            final long stamp = active.readLock();
            try {
                if (active.segment.find(hash, key, 0, keyLength) >= 0) {
                    throw new IllegalStateException("slot " + slot + " of previous shard " + i + " holds a key that"
                        + " is also in its active shard " + KeyHasher.shardIndex(hash, l.count));
                }
            } finally {
                active.unlockRead(stamp);
            }
        }
    }

    /**
     * Registers {@code owner} (the public map) so that if it becomes unreachable without being closed, its
     * off-heap memory is freed and a warning names where it was created. The cleaning action holds this table,
     * never the owner, or the owner could never become unreachable.
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
        synchronized (lifecycle) {
            if (closed) {
                return;
            }
            closedMessage = message;   // written before the flag: whoever sees the flag sees the message
            closed = true;
            final Layout l = layout;
            releaseAll(l.active);
            if (l.migration != null) {
                releaseAll(l.migration.previous);
            }
            // Optimistic readers that entered before `closed` was set may still be reading: wait for them.
            epochs.synchronize();
        }
    }

    /** Releases every existing shard of {@code shards} under its write lock (memory retired to the epochs). */
    static void releaseAll(Shard[] shards) {
        for (int i = 0; i < shards.length; i++) {
            final Shard shard = shardAt(shards, i);
            if (shard != null) {
                release(shard);
            }
        }
    }

    private static void release(Shard shard) {
        final long stamp = shard.writeLock();
        try {
            Snapshots.beforeRelease(shard);   // a snapshot that still reads this shard live copies it first
            shard.segment.release();
        } finally {
            shard.unlockWrite(stamp);
        }
    }
}
