package io.starshard.internal;

import io.starshard.RebalanceOptions;
import io.starshard.RebalanceReport;
import io.starshard.RebalanceStatus;
import io.starshard.internal.ThreadContext.Frame;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemoryExhaustedException;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentClosedException;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentTerminationException;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * Changes a map's shard count while it is in use: the mover of entries between the previous and the active shard
 * array, the start and the end of a migration, its status, and the optional background thread.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Start</b> publishes a layout whose active array is new and empty and whose {@link Migration} holds the
 *       old array. From then on nothing is inserted into an old shard: a writer moves its key first
 *       ({@link ShardTable#lockForWrite}), every insert goes to the new array. Writers that locked an old shard
 *       before the new layout was published finish before any step can lock that shard, and re-check the layout
 *       under their lock otherwise; so a step that has passed a slot never sees a new entry appear behind it.</li>
 *   <li><b>A step</b> locks one previous shard, walks its slots from its cursor and, for each entry, locks the
 *       active shard the stored hash routes to (one at a time, always after the previous shard: the same order
 *       as writers), copies the entry's bytes there and removes it from the previous shard. The count of entries
 *       does not change. A step ends after {@link RebalanceOptions#batchSize()} entries or
 *       {@link RebalanceOptions#maxPause()}, whichever comes first.</li>
 *   <li><b>The end</b>: once every previous shard is drained, a layout without migration is published and the
 *       previous shards are released under their locks; their memory is freed through the epoch domain when no
 *       optimistic reader can still be in it.</li>
 * </ul>
 */
final class Rebalancer {
    private static final System.Logger LOG = System.getLogger("io.starshard.ShardedHashMap");
    /** How many entries a step moves between two looks at the clock. */
    private static final int CLOCK_EVERY = 4;

    private final ShardTable shards;
    /** The status of the last finished migration, reported while idle; null before the first. */
    private volatile RebalanceStatus lastFinished;
    /** The migration started last (running or over); null before the first. */
    private volatile Migration latest;

    Rebalancer(ShardTable shards) {
        this.shards = shards;
    }

    // =========================================================================================================
    // Start, step, end
    // =========================================================================================================

    /**
     * Starts moving to {@code target} shards (already validated against the cap).
     *
     * @return false if the map already has {@code target} shards (nothing started)
     * @throws IllegalStateException if the map is closed or a rebalance is already running
     */
    boolean start(int target, RebalanceOptions options) {
        final Migration started;
        synchronized (shards.lifecycle) {
            shards.checkOpen();
            final ShardTable.Layout l = shards.layout();
            if (l.migration != null) {
                throw new IllegalStateException("a rebalance from " + l.migration.previousCount + " to " + l.count
                    + " shards is already running (" + percent(status()) + " done); wait until rebalanceStatus()"
                    + " is IDLE, or advance it with advanceRebalance, before starting another");
            }
            if (target == l.count) {
                return false;
            }
            started = new Migration(l.active, target, options);
            latest = started;
            shards.publish(new ShardTable.Layout(newShards(target), started, shards.specFor(target)));
        }
        if (options.background()) {
            startBackground(started);
        }
        return true;
    }

    /**
     * The new active array. When the map holds at least one entry per new shard, every shard is created now, in
     * the starting thread and before anything is published, and every page of its table is touched: otherwise
     * the steps would allocate and initialise tables, and take a page fault for most entries they insert, while
     * holding locks. A sparse map keeps its shards lazy.
     *
     * @throws io.starshard.offheap.OffHeapMemoryExhaustedException if they do not fit the budget (nothing started)
     */
    private Shard[] newShards(int target) {
        final Shard[] next = new Shard[target];
        if (shards.size() < target) {
            return next;
        }
        final ShardTable.Layout preview = new ShardTable.Layout(next, null, shards.specFor(target));
        try {
            for (int i = 0; i < target; i++) {
                // Sized for its share: entries arrive in their previous tables' slot order (see createShard).
                shards.createShard(preview, i, ShardTable.initialEntriesPerShard(shards.size(), target))
                    .segment.prefault();
            }
        } catch (RuntimeException | Error e) {
            for (Shard shard : next) {
                if (shard != null) {
                    shard.segment.close();   // never published: no reader can see it
                }
            }
            throw e;
        }
        return next;
    }

    /**
     * Moves up to {@code budget} entries of the running migration, in steps, and ends it when the last previous
     * shard is drained. Safe to call from any number of threads at once.
     *
     * @return entries moved by this call
     */
    long advance(ThreadContext ctx, long budget) {
        final ShardTable.Layout l = shards.layout();
        final Migration m = l.migration;
        if (m == null) {
            return 0;
        }
        long moved = 0;
        final Frame f = ctx.push();
        try {
            // Round after round over the previous shards until the budget is spent: each step is bounded by the
            // batch size and the pause, and between two steps every lock is released.
            while (moved < budget && !m.allDrained()) {
                final int index = Math.floorMod(m.nextShard.getAndIncrement(), m.previousCount);
                final Shard previous = ShardTable.shardAt(m.previous, index);
                if (previous != null && !previous.drained) {
                    moved += stepOrCompact(l, m, previous, index, budget - moved, f);
                    if (shards.layout() != l) {
                        return moved;
                    }
                }
            }
        } finally {
            ctx.pop();
        }
        if (m.allDrained()) {
            finish(l);
        }
        return moved;
    }

    /**
     * {@link #step}; if the budget refuses a move, every active shard is compacted (outside any lock) and the step
     * tried once more, so that a rebalance stops at the budget only when compaction could not make room.
     */
    private long stepOrCompact(ShardTable.Layout l, Migration m, Shard previous, int index, long budget, Frame f) {
        try {
            return step(l, m, previous, index, budget, f);
        } catch (OffHeapMemoryExhaustedException refused) {
            shards.compact();
            try {
                return step(l, m, previous, index, budget, f);
            } catch (OffHeapMemoryExhaustedException again) {
                throw shards.refusedAfterCompaction(again);
            }
        }
    }

    /** One step on previous shard {@code index}: moves entries from its cursor until the budget or the pause. */
    private long step(ShardTable.Layout l, Migration m, Shard previous, int index, long budget, Frame f) {
        previous.writeLock();
        final long lockedAt = System.nanoTime();
        try {
            shards.checkOpen();
            if (shards.layout() != l || previous.drained) {
                return 0;
            }
            final Segment from = previous.segment;
            final long deadline = System.nanoTime() + m.maxPauseNanos;
            final long limit = Math.min(budget, m.options.batchSize());
            int cursor = m.cursors[index];
            if (from.size() > 0 && from.nextFull(cursor) < 0) {
                cursor = 0;   // nothing is inserted behind the cursor; should anything be, walk again from the start
            }
            Shard held = null;
            long moved = 0;
            try {
                for (int slot = from.nextFull(cursor); slot >= 0; slot = from.nextFull(slot + 1)) {
                    final long hash = from.hashAt(slot);
                    final int target = KeyHasher.shardIndex(hash, l.count);
                    final Shard existing = ShardTable.shardAt(l.active, target);
                    final Shard active = existing != null ? existing : shards.createShard(l, target);
                    if (active != held) {
                        if (held != null) {
                            held.tryUnlockWrite();
                        }
                        held = null;
                        active.writeLock();
                        held = active;
                        shards.checkOpen();
                    }
                    final int keyLength = from.readKey(slot, f.key, 0);
                    final int valueLength = from.readValue(slot, f.read, 0);
                    active.segment.insert(hash, f.key, 0, keyLength, f.read, 0, valueLength);
                    from.removeAt(slot);
                    m.moved(keyLength, valueLength);
                    cursor = slot + 1;
                    if (++moved >= limit || (moved % CLOCK_EVERY == 0 && System.nanoTime() - deadline >= 0)) {
                        break;
                    }
                }
            } finally {
                if (held != null) {
                    held.tryUnlockWrite();
                }
                m.cursors[index] = cursor;
            }
            ShardTable.markIfDrained(previous);
            return moved;
        } finally {
            final long held = System.nanoTime() - lockedAt;
            previous.tryUnlockWrite();
            m.longestStepNanos.accumulateAndGet(held, Math::max);
        }
    }

    /** Ends the migration of {@code l} if every previous shard is drained and no one has ended it yet. */
    private void finish(ShardTable.Layout l) {
        synchronized (shards.lifecycle) {
            final Migration m = l.migration;
            if (shards.isClosed() || shards.layout() != l || !m.allDrained()) {
                return;
            }
            shards.publish(new ShardTable.Layout(l.active, null, l.spec));
            lastFinished = new RebalanceStatus(RebalanceStatus.State.IDLE, m.previousCount, l.count,
                m.movedEntries.sum(), m.movedBytes.sum(), 0, 0, 1.0, Duration.ofNanos(m.longestStepNanos.get()));
            ShardTable.releaseAll(m.previous);   // emptied; freed once no optimistic reader can be in them
            if (!m.options.background()) {
                m.over.countDown();   // a background migration's thread opens it after its last report
            }
        }
    }

    /**
     * Rebalances to {@code target} shards in the calling thread: starts, advances until done, reports. Other
     * threads keep reading and writing meanwhile, each waiting at most about one step.
     *
     * @throws IllegalStateException if the map is closed (also during the rebalance) or a rebalance runs
     */
    RebalanceReport rebalanceTo(ThreadContext ctx, int target) {
        final long start = System.nanoTime();
        final int from = shards.shardCount();
        if (!start(target, RebalanceOptions.defaults())) {
            return new RebalanceReport(from, from, 0, 0, Duration.ofNanos(System.nanoTime() - start));
        }
        final ShardTable.Layout l = shards.layout();
        final Migration m = l.migration;
        while (shards.layout() == l) {
            shards.checkOpen();
            advance(ctx, Long.MAX_VALUE);
        }
        shards.checkOpen();
        return new RebalanceReport(m.previousCount, m.targetCount, m.movedEntries.sum(), m.movedBytes.sum(),
            Duration.ofNanos(System.nanoTime() - start));
    }

    // =========================================================================================================
    // Status
    // =========================================================================================================

    /** Where the running (or last) migration stands; counts are racy while writers run. */
    RebalanceStatus status() {
        final ShardTable.Layout l = shards.layout();
        final Migration m = l.migration;
        if (m == null) {
            final RebalanceStatus last = lastFinished;
            return last != null ? last
                : new RebalanceStatus(RebalanceStatus.State.IDLE, l.count, l.count, 0, 0, 0, 0, 1.0, Duration.ZERO);
        }
        long remaining = 0;
        long remainingBytes = 0;
        for (int i = 0; i < m.previousCount; i++) {
            final Shard previous = ShardTable.shardAt(m.previous, i);
            if (previous != null && !previous.drained) {
                // Racy reads of plain counters, no lock: a status must not wait for (or delay) the steps, and a
                // progress figure may be a step behind. They read Java fields only, never off-heap memory.
                try {
                    remaining += previous.segment.size();
                    remainingBytes += previous.segment.payloadBytes();
                } catch (SegmentClosedException e) {
                    // released after being drained: nothing remains there
                }
            }
        }
        final long moved = m.movedEntries.sum();
        final double progress = moved + remaining == 0 ? 1.0 : (double) moved / (moved + remaining);
        return new RebalanceStatus(RebalanceStatus.State.MIGRATING, m.previousCount, l.count, moved,
            m.movedBytes.sum(), remaining, remainingBytes, progress, Duration.ofNanos(m.longestStepNanos.get()));
    }

    /**
     * Waits until no rebalance runs.
     *
     * @return true if none runs, false if {@code timeoutNanos} passed first
     */
    boolean await(long timeoutNanos) {
        final long deadline = System.nanoTime() + timeoutNanos;
        while (shards.layout().migration != null || !isOver(latest)) {
            shards.checkOpen();
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            LockSupport.parkNanos(200_000);
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    private static boolean isOver(Migration m) {
        return m == null || m.over.getCount() == 0;
    }

    private static String percent(RebalanceStatus status) {
        return Math.round(status.progress() * 100) + " %";
    }

    // =========================================================================================================
    // Background
    // =========================================================================================================

    private void startBackground(Migration m) {
        final Duration pause = m.options.pauseBetweenSteps();
        BackgroundAgents.start(new BackgroundAgent(m),
            pause.isZero() ? new YieldingIdleStrategy() : new SleepingIdleStrategy(pause.toNanos()));
    }

    /** Advances one migration step after step on its own thread; ends with the migration or the map. */
    private final class BackgroundAgent implements Agent {
        private final Migration migration;
        private final long intervalNanos;
        private long nextReport = System.nanoTime();

        BackgroundAgent(Migration migration) {
            this.migration = migration;
            this.intervalNanos = migration.options.progressInterval().toNanos();
        }

        @Override
        public int doWork() {
            final ShardTable.Layout l = shards.layout();
            if (shards.isClosed() || l.migration != migration) {
                report(true);
                throw new AgentTerminationException();
            }
            try {
                advance(ThreadContext.current(), migration.options.batchSize());
            } catch (RuntimeException e) {
                if (!shards.isClosed()) {   // closed under us is no failure: nothing is left to move
                    LOG.log(System.Logger.Level.WARNING, "background rebalance step failed; the background thread"
                        + " stops, and the rebalance can still be advanced with advanceRebalance", e);
                }
                throw new AgentTerminationException();
            }
            report(false);
            return 0;   // let the idle strategy yield or sleep between two steps
        }

        /** Called by the runner whichever way the agent stopped: the migration is over for its observers. */
        @Override
        public void onClose() {
            migration.over.countDown();
        }

        private void report(boolean last) {
            final java.util.function.Consumer<RebalanceStatus> listener = migration.options.listener();
            if (listener == null || shards.isClosed() || (!last && System.nanoTime() - nextReport < 0)) {
                return;
            }
            nextReport = System.nanoTime() + intervalNanos;
            try {
                listener.accept(status());
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "rebalance listener failed", e);
            }
        }

        @Override
        public String roleName() {
            return "starshard-rebalance";
        }
    }
}
