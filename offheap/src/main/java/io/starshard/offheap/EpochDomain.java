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
 * {@linkplain #retire retired} with the current epoch and freed once every reader has left the sections that
 * might have seen it.
 *
 * <h2>Protocol</h2>
 * <pre>
 *  reader (per thread)                          writer / closer
 *  -------------------                          ---------------
 *  announce = epoch      (volatile store:       publish new table, or set closed   (volatile store)
 *                         store + full fence)   e = epoch++                        (atomic, full fence)
 *  read table / closed flag                     retire(old, e)
 *  ... dereference, bounds-checked ...          later: free old once every reader's
 *  announce = IDLE       (release store)               announce is IDLE or &gt; e
 * </pre>
 * Both sides store then load with a full fence between (Dekker): either the reclaimer sees the reader's
 * announcement and waits, or the reader sees the new table / the closed flag and never touches the old memory.
 * A reader that announced an epoch greater than {@code e} read the epoch after the increment, and so after the
 * publication that preceded it.
 *
 * <h2>Cost</h2>
 * A reader pays one volatile store (a full fence on x86, roughly 5-10 ns) and one release store, both on a
 * cache line that only its own thread writes (each {@link Reader} is padded). No read-modify-write on a
 * shared line, no allocation. Sections nest (a depth counter), so a caller can hold one across several reads.
 * Out of cache the fence itself measured 1-2 % of a 10M-entry get; the section as a whole (fence, depth
 * counter, epoch load) measured far more, because it lengthens the path after the fence. See
 * {@code ReadPathBenchmark} and docs/benchmarks.md before trying to make it cheaper.
 *
 * <p>Readers must never block inside a section: {@link #synchronize()} (used by {@code close}) waits for every
 * section open at its start to end. Dead threads count as idle.
 */
public final class EpochDomain {
    private static final long IDLE = 0;
    private static final EpochDomain SHARED = new EpochDomain();

    private final EpochCounter epoch = new EpochCounter();
    private final ThreadLocal<Reader> readers = ThreadLocal.withInitial(this::register);
    private final Object lock = new Object();
    /** Copy-on-write registry of every thread's reader; replaced under {@link #lock}. */
    private volatile Reader[] registry = new Reader[0];
    /** Retired blocks in epoch order; guarded by {@link #lock}. */
    private final ArrayDeque<Retired> limbo = new ArrayDeque<>();
    /** Number of entries in {@link #limbo}; read without the lock by {@link #hasPending()}. */
    private volatile int pending;

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

    private Reader register() {
        Reader reader = new Reader(this, Thread.currentThread());
        synchronized (lock) {
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
        final long retiredAt = (long) EpochCounter.VALUE.getAndAdd(epoch, 1L);
        synchronized (lock) {
            limbo.addLast(new Retired(memory, address, bytes, retiredAt));
            pending = limbo.size();
        }
        reclaim();
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
     * Frees every retired block that no reader can reach any more. Never blocks on readers.
     *
     * @return the number of blocks freed
     */
    public int reclaim() {
        synchronized (lock) {
            if (limbo.isEmpty()) {
                return 0;
            }
            final long oldestActive = oldestActiveEpoch();
            int freed = 0;
            // Items were retired in increasing epoch order (the epoch is taken before the lock, so order can be
            // off by a little between threads); scan the whole queue rather than stopping at the first survivor.
            for (Iterator<Retired> it = limbo.iterator(); it.hasNext(); ) {
                Retired r = it.next();
                if (r.retiredAt < oldestActive) {
                    it.remove();
                    r.memory.free(r.address, r.bytes);
                    freed++;
                }
            }
            pending = limbo.size();
            return freed;
        }
    }

    /**
     * Waits until every block retired before this call has been freed, i.e. until every reader section that
     * was open when it was called has ended. Used by {@code close()}.
     *
     * @throws IllegalStateException if the calling thread is itself inside a section (it would wait for itself)
     */
    public void synchronize() {
        Reader self = readers.get();
        if (self.depth != 0) {
            throw new IllegalStateException("synchronize() called inside a read section of the same thread");
        }
        final long target = (long) EpochCounter.VALUE.getAndAdd(epoch, 1L);
        int rounds = 0;
        while (hasRetiredAtOrBefore(target)) {
            reclaim();
            if (!hasRetiredAtOrBefore(target)) {
                return;
            }
            backOff(++rounds);
        }
    }

    private boolean hasRetiredAtOrBefore(long target) {
        synchronized (lock) {
            for (Retired r : limbo) {
                if (r.retiredAt <= target) {
                    return true;
                }
            }
            return false;
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

    /** Smallest epoch announced by a reader inside a section, or {@code Long.MAX_VALUE}; prunes dead threads. */
    private long oldestActiveEpoch() {
        long oldest = Long.MAX_VALUE;
        boolean dead = false;
        for (Reader r : registry) {
            long announced = (long) Reader.ANNOUNCED.getVolatile(r);
            if (r.owner.get() == null) {
                // A thread cannot die inside a section (exit runs in finally); its reader is idle.
                dead = true;
                continue;
            }
            if (announced != IDLE && announced < oldest) {
                oldest = announced;
            }
        }
        if (dead) {
            pruneDeadReaders();
        }
        return oldest;
    }

    private void pruneDeadReaders() {
        Reader[] current = registry;
        int alive = 0;
        Reader[] next = new Reader[current.length];
        for (Reader r : current) {
            if (r.owner.get() != null) {
                next[alive++] = r;
            }
        }
        registry = Arrays.copyOf(next, alive);
    }

    /**
     * Number of registered reader threads (for tests and diagnostics).
     *
     * @return registered readers, including threads that died since the last prune
     */
    public int registeredReaders() {
        return registry.length;
    }

    private static final class Retired {
        final OffHeapMemory memory;
        final long address;
        final long bytes;
        final long retiredAt;

        Retired(OffHeapMemory memory, long address, long bytes, long retiredAt) {
            this.memory = memory;
            this.address = address;
            this.bytes = bytes;
            this.retiredAt = retiredAt;
        }
    }

    /** Cache-line padding before the epoch counter, which every reader reads and writers rarely write. */
    abstract static class EpochPadBefore {
        long p01, p02, p03, p04, p05, p06, p07, p08;
    }

    abstract static class EpochValue extends EpochPadBefore {
        /** Starts at 1 so that {@link #IDLE} (0) is never a real epoch. */
        volatile long value = 1;
    }

    static final class EpochCounter extends EpochValue {
        static final VarHandle VALUE;

        static {
            try {
                VALUE = MethodHandles.lookup().findVarHandle(EpochValue.class, "value", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        long p11, p12, p13, p14, p15, p16, p17, p18;
    }

    /** Padding before a reader's fields so two threads' readers never share a cache line. */
    abstract static class ReaderPadBefore {
        long p01, p02, p03, p04, p05, p06, p07, p08;
    }

    abstract static class ReaderFields extends ReaderPadBefore {
        /** The epoch this thread announced on entering its outermost section, or {@link #IDLE}. */
        volatile long announced;
        /** Nesting depth of sections; written and read only by the owning thread. */
        int depth;
    }

    /**
     * One thread's registration in a domain. Only the owning thread calls {@link #enter()} and {@link #exit()}.
     */
    public static final class Reader extends ReaderFields {
        static final VarHandle ANNOUNCED;

        static {
            try {
                ANNOUNCED = MethodHandles.lookup().findVarHandle(ReaderFields.class, "announced", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        long p11, p12, p13, p14, p15, p16, p17, p18;
        private final EpochDomain domain;
        private final WeakReference<Thread> owner;

        Reader(EpochDomain domain, Thread owner) {
            this.domain = domain;
            this.owner = new WeakReference<>(owner);
        }

        /**
         * Opens a read section: memory reachable from now on is not freed until the matching {@link #exit()}.
         * Must be paired with {@code exit()} in a {@code finally} block; must not block inside.
         */
        public void enter() {
            if (depth++ == 0) {
                // Volatile store = store + full fence: the announcement is visible before any later load
                // (the table reference, the closed flag). This fence is the ordering the scheme rests on.
                ANNOUNCED.setVolatile(this, (long) EpochCounter.VALUE.getVolatile(domain.epoch));
            }
        }

        /** Closes the section opened by the matching {@link #enter()}. */
        public void exit() {
            if (--depth == 0) {
                // Release: every read of the section happens before the reclaimer can see IDLE.
                ANNOUNCED.setRelease(this, IDLE);
            } else if (depth < 0) {
                depth = 0;
                throw new IllegalStateException("exit() without a matching enter()");
            }
        }

        /**
         * Whether this thread is inside a section.
         *
         * @return true between {@code enter()} and its matching {@code exit()}
         */
        public boolean inSection() {
            return depth > 0;
        }
    }
}
