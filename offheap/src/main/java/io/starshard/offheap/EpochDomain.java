package io.starshard.offheap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.concurrent.locks.LockSupport;

/**
 * Epoch-based reclamation: frees off-heap memory only when no optimistic reader can still be reading it.
 *
 * <p>Why: Starshard's readers take no lock. They read a segment's table while a writer may be growing it or
 * the map may be closing, and validate afterwards (a {@code StampedLock} stamp). Validation makes the
 * <em>result</em> safe, but a read of memory that was already returned to the operating system would crash
 * the JVM before validation could reject it. So memory that a reader may reach is never freed directly: it is
 * {@linkplain #retire retired} and freed once every reader section that was open at that moment has ended.
 *
 * <h2>Protocol</h2>
 * Each thread's {@link Reader} owns one word, its <em>state</em>: the number of outer sections it has opened
 * (the section's sequence number) above {@value #DEPTH_BITS} bits of nesting depth. Only the owner writes it.
 * <pre>
 *  reader (per thread)                          writer / closer
 *  -------------------                          ---------------
 *  state = (seq + 1, depth 1)  (volatile store: publish new table, or set closed   (volatile store)
 *                               store + fence)  full fence
 *  read table / closed flag                     retire(old): note every reader whose depth is not 0,
 *  ... dereference, bounds-checked ...                       with its sequence number
 *  state = (seq + 1, depth 0)  (release store)  later: free old once each noted reader's depth is 0 or its
 *                                                      sequence number has moved on
 * </pre>
 * Both sides store then load with a full fence between (Dekker): either the reclaimer sees the reader's new
 * state and waits for that section, or the reader sees the new table / the closed flag and never touches the
 * old memory. A reader noted in section {@code s} that is later seen idle, or in a section after {@code s}, has
 * ended {@code s}; the release store makes every read of {@code s} happen before that observation.
 *
 * <h2>Cost</h2>
 * A reader pays one volatile store (a full fence on x86) and one release store, on a cache line that only its
 * own thread writes (each {@link Reader} is padded), and reads nothing but its own word. No read-modify-write on a
 * shared line, no shared counter, no allocation. Sections nest (the depth bits), so a caller can hold one across
 * several reads. Why a word per reader rather than one global epoch counter: with a global epoch every section
 * would also load the shared counter before its fence, a chain of dependent loads (reader, domain, counter) on
 * the hot path; the per-reader word needs only the reader's own line, and the noting is paid by the rare
 * {@code retire} instead.
 *
 * <p>Readers must never block inside a section: {@link #synchronize()} (used by {@code close}) waits for every
 * section open at its start to end. Dead threads count as idle.
 */
public final class EpochDomain {
    /** Low bits of a reader's state: the nesting depth of its sections. */
    static final int DEPTH_BITS = 20;
    private static final long DEPTH_MASK = (1L << DEPTH_BITS) - 1;
    /** Added to a reader's state by an outer enter: the next sequence number, and depth 1. */
    private static final long OUTER_SECTION = (1L << DEPTH_BITS) + 1;
    private static final EpochDomain SHARED = new EpochDomain();
    /**
     * Registry length at which a registration first drops the readers of finished threads. Below it a thread
     * that reads once and ends costs one small copy; above it pruning keeps the registry near the number of live
     * reader threads.
     */
    static final int MIN_PRUNE_THRESHOLD = 64;

    /**
     * Blocks at least this large are freed by a background thread instead of the thread that reclaims them: the
     * operating system takes milliseconds to unmap tens of megabytes, and the reclaiming thread is usually a
     * writer holding a shard lock (the end of a table growth, the release of an emptied segment).
     */
    static final long ASYNC_FREE_BYTES = 1L << 20;

    /** How often the releaser thread looks again at retired blocks that readers still held. */
    static final long LIMBO_POLL_MILLIS = 1;

    private final ThreadLocal<Reader> readers = ThreadLocal.withInitial(this::register);
    private final Object lock = new Object();
    /** Copy-on-write registry of every thread's reader; replaced under {@link #lock}. */
    private volatile Reader[] registry = new Reader[0];
    /** Retired blocks in retirement order; guarded by {@link #lock}. */
    private final ArrayDeque<Retired> limbo = new ArrayDeque<>();
    /** Retirements so far, numbering the blocks in {@link #limbo}; guarded by {@link #lock}. */
    private long retirements;
    /** Blocks no reader can reach, waiting for the releaser thread; guarded by {@link #lock}. */
    private final ArrayDeque<Retired> releasing = new ArrayDeque<>();
    /** The block the releaser thread is freeing right now, or null; guarded by {@link #lock}. */
    private Retired beingReleased;
    /** The releaser thread, started on first need; guarded by {@link #lock}. */
    private Thread releaser;
    /** Number of entries in {@link #limbo}; read without the lock by {@link #hasPending()}. */
    private volatile int pending;
    /**
     * Registry length at which the next registration prunes first: twice the readers left by the last prune, at
     * least {@link #MIN_PRUNE_THRESHOLD}, so each registration costs amortised O(1) pruning work. Guarded by
     * {@link #lock}.
     */
    private int pruneAt = MIN_PRUNE_THRESHOLD;

    /**
     * Creates an independent domain. Maps share {@link #shared()}; tests may use their own.
     */
    public EpochDomain() {
    }

    /**
     * The domain every map uses by default: one registry of reader threads for the whole JVM, so a reader
     * finds its record with a single thread-local lookup whichever map it reads.
     *
     * @return the shared domain
     */
    public static EpochDomain shared() {
        return SHARED;
    }

    /**
     * The calling thread's reader, created and registered on first use.
     *
     * @return this thread's reader; only this thread may call its methods
     */
    public Reader reader() {
        return readers.get();
    }

    /**
     * Adds the calling thread's reader. Why it may prune: a service that starts a thread per task (a virtual thread
     * per task on JDK 21+) registers a reader per thread, and {@link #reclaim()} prunes only when something was
     * retired. Without pruning here the registry, and the copy each registration makes of it, would grow with
     * every thread that ever read.
     */
    private Reader register() {
        Reader reader = new Reader(Thread.currentThread());
        synchronized (lock) {
            if (registry.length >= pruneAt) {
                pruneFinishedReaders();
                pruneAt = Math.max(MIN_PRUNE_THRESHOLD, 2 * registry.length);
            }
            Reader[] current = registry;
            Reader[] next = Arrays.copyOf(current, current.length + 1);
            next[current.length] = reader;
            registry = next;
        }
        return reader;
    }

    /**
     * Hands a block of off-heap memory over for freeing once no reader can reach it.
     *
     * <p>The caller must already have made the block unreachable for new readers (published a replacement,
     * cleared the reference, or set a closed flag) with a volatile store or under a lock whose release precedes
     * this call.
     *
     * @param memory  the accountant the block was allocated from
     * @param address the block
     * @param bytes   its size, as allocated
     */
    public void retire(OffHeapMemory memory, long address, long bytes) {
        final Sections open = openSections();
        synchronized (lock) {
            limbo.addLast(new Retired(memory, address, bytes, ++retirements, open));
            pending = limbo.size();
        }
        reclaim();
        if (hasPending()) {
            synchronized (lock) {
                wakeReleaser();   // a reader still holds it: the releaser frees it once that reader has left
            }
        }
    }

    /**
     * Notes every section open now. The fence first: the caller's unpublishing store, the fence, then the
     * readers' states is the writer's half of the Dekker order.
     */
    private Sections openSections() {
        VarHandle.fullFence();
        final Reader[] all = registry;
        Reader[] readers = null;
        long[] states = null;
        int count = 0;
        for (Reader r : all) {
            final long state = (long) Reader.STATE.getVolatile(r);
            if ((state & DEPTH_MASK) != 0) {
                if (readers == null) {
                    readers = new Reader[all.length];
                    states = new long[all.length];
                }
                readers[count] = r;
                states[count++] = state;
            }
        }
        return count == 0 ? Sections.NONE : new Sections(readers, states, count);
    }

    /**
     * Whether retired memory is waiting to be freed.
     *
     * @return true if {@link #reclaim()} has work
     */
    public boolean hasPending() {
        return pending != 0;
    }

    /**
     * Frees every retired block that no reader can reach any more: about {@value #ASYNC_FREE_BYTES} bytes of small
     * blocks in the calling thread, the rest (and every large block) on the releaser thread. Never blocks on
     * readers.
     *
     * @return the number of blocks freed or handed to the releaser
     */
    public int reclaim() {
        synchronized (lock) {
            if (limbo.isEmpty()) {
                return 0;
            }
            int freed = 0;
            long freedHere = 0;
            boolean dead = false;
            for (Iterator<Retired> it = limbo.iterator(); it.hasNext(); ) {
                Retired r = it.next();
                if (r.open.allEnded()) {
                    it.remove();
                    // The caller may hold a shard lock: it frees at most about ASYNC_FREE_BYTES here, and a
                    // backlog (the chunks of a whole shard array, say) goes to the releaser thread.
                    if (r.bytes >= ASYNC_FREE_BYTES || freedHere >= ASYNC_FREE_BYTES) {
                        releaseLater(r);
                    } else {
                        r.memory.free(r.address, r.bytes);
                        freedHere += r.bytes;
                    }
                    freed++;
                }
            }
            for (Reader reader : registry) {
                dead |= reader.ownerFinished();
            }
            if (dead) {
                pruneFinishedReaders();
            }
            pending = limbo.size();
            return freed;
        }
    }

    /**
     * Waits until every block retired before this call has been freed, and every reader section that was open
     * when it was called has ended. Used by {@code close()}.
     *
     * @throws IllegalStateException if the calling thread is itself inside a section (it would wait for itself)
     */
    public void synchronize() {
        Reader self = readers.get();
        if (self.inSection()) {
            throw new IllegalStateException("synchronize() called inside a read section of the same thread");
        }
        final Sections open = openSections();
        final long target;
        synchronized (lock) {
            target = retirements;
        }
        for (int rounds = 1; ; rounds++) {
            reclaim();
            releaseQueued();
            if (open.allEnded() && !hasRetiredAtOrBefore(target)) {
                return;
            }
            backOff(rounds);
        }
    }

    private boolean hasRetiredAtOrBefore(long target) {
        synchronized (lock) {
            for (Retired r : limbo) {
                if (r.number <= target) {
                    return true;
                }
            }
            return !releasing.isEmpty() || beingReleased != null;
        }
    }

    /** Queues a block no reader can reach for the releaser thread; caller holds {@link #lock}. */
    private void releaseLater(Retired r) {
        releasing.addLast(r);
        wakeReleaser();
    }

    /** Starts the releaser thread on first need and wakes it; caller holds {@link #lock}. */
    private void wakeReleaser() {
        if (releaser == null) {
            releaser = new Thread(this::releaseLoop, "starshard-releaser");
            releaser.setDaemon(true);
            releaser.start();
        }
        lock.notifyAll();
    }

    /**
     * The releaser thread: frees queued blocks outside the lock; while retired blocks still wait for readers it
     * looks again every {@value #LIMBO_POLL_MILLIS} ms, so memory comes back once the last reader has left even
     * when nothing is retired after it (the end of a rebalance, a map that stops being written); otherwise it
     * waits to be woken.
     */
    private void releaseLoop() {
        while (true) {
            final Retired r;
            synchronized (lock) {
                while (releasing.isEmpty()) {
                    try {
                        lock.wait(limbo.isEmpty() ? 0 : LIMBO_POLL_MILLIS);
                    } catch (InterruptedException e) {
                        // a daemon that serves until the JVM ends; keeping the flag would make every wait spin
                    }
                    if (!limbo.isEmpty()) {
                        reclaim();
                    }
                }
                r = releasing.pollFirst();
                beingReleased = r;
            }
            try {
                r.memory.free(r.address, r.bytes);
            } finally {
                synchronized (lock) {
                    beingReleased = null;
                }
            }
        }
    }

    /** Frees the queued large blocks in the calling thread, so {@link #synchronize()} needs no other thread. */
    private void releaseQueued() {
        while (true) {
            final Retired r;
            synchronized (lock) {
                r = releasing.pollFirst();
            }
            if (r == null) {
                return;
            }
            r.memory.free(r.address, r.bytes);
        }
    }

    private static void backOff(int rounds) {
        if (rounds < 64) {
            Thread.onSpinWait();
        } else if (rounds < 128) {
            Thread.yield();
        } else {
            LockSupport.parkNanos(50_000L);
        }
    }

    /**
     * Drops the readers of threads that have ended; caller holds {@link #lock}. Safe while a reclaimer iterates an
     * older copy of the array, and for noted sections: a finished thread's section counts as ended.
     */
    private void pruneFinishedReaders() {
        Reader[] current = registry;
        int alive = 0;
        Reader[] next = new Reader[current.length];
        for (Reader r : current) {
            if (!r.ownerFinished()) {
                next[alive++] = r;
            }
        }
        registry = Arrays.copyOf(next, alive);
    }

    /**
     * Number of registered reader threads (for tests and diagnostics).
     *
     * @return registered readers, including threads that ended since the last prune
     */
    public int registeredReaders() {
        return registry.length;
    }

    /** The sections that were open at one moment: each reader inside one, with its state then. Immutable. */
    private static final class Sections {
        static final Sections NONE = new Sections(new Reader[0], new long[0], 0);

        private final Reader[] readers;
        private final long[] states;
        private final int count;

        Sections(Reader[] readers, long[] states, int count) {
            this.readers = readers;
            this.states = states;
            this.count = count;
        }

        /**
         * Whether every noted section has ended: its reader is idle, has moved on to a later outer section, or
         * its thread has ended (a thread that has ended reads nothing more; the map's own sections close in
         * {@code finally}, so only a thread killed inside one ends with its depth above 0).
         */
        boolean allEnded() {
            for (int i = 0; i < count; i++) {
                final Reader r = readers[i];
                final long now = (long) Reader.STATE.getVolatile(r);
                final boolean sameSection = (now >>> DEPTH_BITS) == (states[i] >>> DEPTH_BITS);
                if (sameSection && (now & DEPTH_MASK) != 0 && !r.ownerFinished()) {
                    return false;
                }
            }
            return true;
        }
    }

    private static final class Retired {
        final OffHeapMemory memory;
        final long address;
        final long bytes;
        final long number;
        final Sections open;

        Retired(OffHeapMemory memory, long address, long bytes, long number, Sections open) {
            this.memory = memory;
            this.address = address;
            this.bytes = bytes;
            this.number = number;
            this.open = open;
        }
    }

    /** Padding before a reader's fields so two threads' readers never share a cache line. */
    abstract static class ReaderPadBefore {
        long p01, p02, p03, p04, p05, p06, p07, p08;
    }

    abstract static class ReaderFields extends ReaderPadBefore {
        /**
         * Outer sections opened so far (above {@link #DEPTH_BITS}) and the current nesting depth (below). Written
         * only by the owning thread; read by reclaimers.
         */
        volatile long state;
    }

    /**
     * One thread's registration in a domain. Only the owning thread calls {@link #enter()} and {@link #exit()}.
     */
    public static final class Reader extends ReaderFields {
        static final VarHandle STATE;

        static {
            try {
                STATE = MethodHandles.lookup().findVarHandle(ReaderFields.class, "state", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        long p11, p12, p13, p14, p15, p16, p17, p18;
        private final WeakReference<Thread> owner;

        Reader(Thread owner) {
            this.owner = new WeakReference<>(owner);
        }

        /**
         * Whether the owning thread has ended (or was collected): it can open no section any more, and everything
         * it read happens before this returns true (a thread's end synchronizes with {@code isAlive()} seeing
         * it, JLS 17.4.4).
         */
        boolean ownerFinished() {
            final Thread t = owner.get();
            return t == null || !t.isAlive();
        }

        /**
         * Opens a read section: memory reachable from now on is not freed until the matching {@link #exit()}.
         * Must be paired with {@code exit()} in a {@code finally} block; must not block inside.
         *
         * @throws IllegalStateException if sections are nested more than {@code 2^20 - 1} deep
         */
        public void enter() {
            final long state = (long) STATE.get(this);   // only this thread writes it
            if ((state & DEPTH_MASK) == 0) {
                // Volatile store = store + full fence: the new state is visible before any later load (the table
                // reference, the closed flag). This fence is the ordering the scheme rests on.
                STATE.setVolatile(this, state + OUTER_SECTION);
            } else if ((state & DEPTH_MASK) != DEPTH_MASK) {
                STATE.setOpaque(this, state + 1);   // nested: the outer section already protects it
            } else {
                throw new IllegalStateException("read sections nested " + DEPTH_MASK + " deep");
            }
        }

        /** Closes the section opened by the matching {@link #enter()}. */
        public void exit() {
            final long state = (long) STATE.get(this);
            final long depth = state & DEPTH_MASK;
            if (depth == 1) {
                // Release: every read of the section happens before a reclaimer can see it ended.
                STATE.setRelease(this, state - 1);
            } else if (depth > 1) {
                STATE.setOpaque(this, state - 1);
            } else {
                throw new IllegalStateException("exit() without a matching enter()");
            }
        }

        /**
         * Whether this thread is inside a section.
         *
         * @return true between {@code enter()} and its matching {@code exit()}
         */
        public boolean inSection() {
            return (((long) STATE.get(this)) & DEPTH_MASK) != 0;
        }
    }
}
