package io.starshard.jmh.map;

import io.starshard.ShardedHashMap;
import io.starshard.internal.Shard;
import io.starshard.offheap.EpochDomain;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentSpec;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code ShardedHashMap.getLong}'s read path rebuilt one piece at a time on the real classes, with
 * {@link MapBenchmark}'s keys, permutation and cursor, so that each piece's cost out of cache can be read off
 * one run next to {@code MapBenchmark.longGet} (CHM and the shipped map behind its adapter).
 *
 * <p>Why it exists: the map's 10M get is slower than {@code ConcurrentHashMap}'s, and its pieces do not add
 * up. Taking any one of them out of the shipped path (the fence, the thread-local lookup, the reader's nesting
 * counter) measured within noise, while the stamped read with a fenced announcement and nothing else measured
 * faster than CHM. A kept benchmark makes that claim checkable, and it is where a cheaper reader (or an
 * asymmetric barrier) should be measured first. docs/benchmarks.md has the numbers.
 *
 * <p>Every method returns the value of the key it looked up; the steps, each adding to the one before:
 * <ol>
 *   <li>{@link #segments}: 64 {@link Segment}s chosen by the shard bits, {@code getLong}, no protection;</li>
 *   <li>{@link #stamp}: plus the shard's {@code StampedLock} optimistic stamp and validation;</li>
 *   <li>{@link #releaseAnnouncement}: plus an epoch announcement made with release stores only, no fence.
 *       <b>Not a safe protocol by itself</b> (a reclaimer could miss the announcement); it is the reader's cost
 *       if the reclaimer paid for the ordering instead, as with Linux {@code membarrier};</li>
 *   <li>{@link #fencedAnnouncement}: the same announcement as a volatile store (store + full fence), the
 *       ordering {@link EpochDomain} relies on, without its nesting counter;</li>
 *   <li>{@link #ownerCheckedAnnouncement}: the same, after checking that the word belongs to the calling thread
 *       ({@code Thread.currentThread() == owner}). Not a step the map takes as such: it isolates the one thing
 *       every safe way of finding a thread's own word needs (a {@code ThreadLocal}, an array indexed by thread
 *       id, an owner check on a handle the caller holds);</li>
 *   <li>{@link #atomicAnnouncement}: instead of an owner check, an announcement that stays correct when two
 *       threads share the word: an atomic add on entry and on exit (the other safe option for a handle the
 *       caller holds, since two threads could share it by mistake);</li>
 *   <li>{@link #epochSection}: the real {@link EpochDomain.Reader} {@code enter}/{@code exit}, the reader held
 *       in a thread-scoped state;</li>
 *   <li>{@link #epochSectionWithThreadLocal}: the same with the reader looked up on every get, as the map
 *       does;</li>
 *   <li>{@link #map}: the shipped {@code ShardedHashMap.getLong}, called directly.</li>
 * </ol>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 4, time = 2)
@Fork(value = 2, jvmArgsAppend = {"-Xmx14g", "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"})
public class ReadPathBenchmark {
    private static final int SHARDS = ShardedHashMap.DEFAULT_SHARDS;

    /** 64 presized {@code long -> long} shards, loaded like the map loads them. */
    @State(Scope.Benchmark)
    public static class Shards {
        /** Entries loaded before measuring. */
        @Param({"10000000"})
        public int entries;

        long[] keys;
        int[] order;
        KeyHasher hasher;
        Shard[] shards;
        EpochDomain epochs;

        /** Generates {@link MapBenchmark}'s keys and permutation and loads the shards. */
        @Setup(Level.Trial)
        public void setUp() {
            keys = Workload.longKeys(entries);
            order = Workload.permutation(entries, 7);
            hasher = new KeyHasher(0x5EED_0004L);
            epochs = EpochDomain.shared();
            final OffHeapMemory memory = OffHeapMemory.unlimited();
            final double share = (double) entries / SHARDS;
            final SegmentSpec spec = SegmentSpec.inline(8, 8, hasher)
                .withInitialEntries((int) Math.ceil(share + 4 * Math.sqrt(share) + 8));
            shards = new Shard[SHARDS];
            for (int i = 0; i < SHARDS; i++) {
                shards[i] = new Shard(new Segment(spec, memory, epochs));
            }
            for (long k : keys) {
                final long hash = hasher.hashFixed(k);
                shards[KeyHasher.shardIndex(hash, SHARDS)].segment.putLong(hash, k);
            }
            for (int i = 0; i < Math.min(entries, 1000); i++) {
                if (segmentGet(this, i) != keys[i]) {
                    throw new IllegalStateException("key " + keys[i] + " not found after loading");
                }
            }
        }

        /** Frees the shards' memory. */
        @TearDown(Level.Trial)
        public void tearDown() {
            for (Shard s : shards) {
                s.segment.close();
            }
        }
    }

    /** The benchmark thread's epoch reader and a padded announcement word of its own. */
    @State(Scope.Thread)
    public static class ThreadReader {
        /** Padding before the announcement, as {@link EpochDomain.Reader} has. */
        long p01, p02, p03, p04, p05, p06, p07, p08;
        /** Stand-in for an epoch reader's announcement; nothing reclaims against it. */
        volatile long announced;
        /** Padding after it. */
        long p11, p12, p13, p14, p15, p16, p17, p18;
        EpochDomain.Reader reader;
        /** The thread the announcement word belongs to, for {@link #ownerCheckedAnnouncement}. */
        Thread owner;

        /** Registers this (benchmark) thread in the shared epoch domain; JMH runs it on that thread. */
        @Setup(Level.Trial)
        public void setUp() {
            reader = EpochDomain.shared().reader();
            owner = Thread.currentThread();
        }
    }

    /** Stand-in for a shared epoch counter (what EpochDomain announced before its per-reader state word). */
    private static final class Epoch {
        long p01, p02, p03, p04, p05, p06, p07, p08;
        volatile long value = 1;
        long p11, p12, p13, p14, p15, p16, p17, p18;
    }

    private static final Epoch EPOCH = new Epoch();
    private static final VarHandle ANNOUNCED;
    private static final VarHandle EPOCH_VALUE;

    static {
        try {
            ANNOUNCED = MethodHandles.lookup().findVarHandle(ThreadReader.class, "announced", long.class);
            EPOCH_VALUE = MethodHandles.lookup().findVarHandle(Epoch.class, "value", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static long segmentGet(Shards s, int index) {
        final long hash = s.hasher.hashFixed(s.keys[index]);
        return s.shards[KeyHasher.shardIndex(hash, SHARDS)].segment.getLong(hash, LongMap.MISSING);
    }

    private static long stamped(Shards s, int index) {
        final long hash = s.hasher.hashFixed(s.keys[index]);
        final Shard shard = s.shards[KeyHasher.shardIndex(hash, SHARDS)];
        final long stamp = shard.tryOptimisticRead();
        final long value = shard.segment.getLong(hash, LongMap.MISSING);
        if (stamp == 0 || !shard.validate(stamp)) {
            throw new IllegalStateException("no writer runs here");
        }
        return value;
    }

    /** Announcement by a release store only (unsafe alone, see the class comment). */
    private static final int RELEASE = 0;
    /** Announcement by a volatile store: store + full fence. */
    private static final int FENCED = 1;
    /** {@link #FENCED} after checking that the calling thread owns the word. */
    private static final int OWNER_CHECKED = 2;
    /** Announcement by an atomic add on entry and on exit. */
    private static final int ATOMIC = 3;

    /**
     * A stamped read inside a stand-in announcement; {@code kind} is a constant at each call site, so the JIT
     * compiles each step to its own kind of announcement.
     */
    private static long announced(Shards s, MapBenchmark.Cursor c, ThreadReader r, int kind) {
        if (kind == OWNER_CHECKED && Thread.currentThread() != r.owner) {
            throw new IllegalStateException("announcement word used by a thread that does not own it");
        }
        final long epoch = (long) EPOCH_VALUE.getAcquire(EPOCH);
        if (kind == RELEASE) {
            ANNOUNCED.setRelease(r, epoch);
        } else if (kind == ATOMIC) {
            ANNOUNCED.getAndAdd(r, 1L);
        } else {
            ANNOUNCED.setVolatile(r, epoch);
        }
        try {
            return stamped(s, s.order[c.next(s.entries)]);
        } finally {
            if (kind == ATOMIC) {
                ANNOUNCED.getAndAdd(r, -1L);
            } else {
                ANNOUNCED.setRelease(r, 0L);
            }
        }
    }

    /**
     * Step 1: the segments alone.
     *
     * @param s the shards
     * @param c this thread's position in its permutation
     * @return the value found
     */
    @Benchmark
    public long segments(Shards s, MapBenchmark.Cursor c) {
        return segmentGet(s, s.order[c.next(s.entries)]);
    }

    /**
     * Step 2: plus the optimistic stamp.
     *
     * @param s the shards
     * @param c this thread's position in its permutation
     * @return the value found
     */
    @Benchmark
    public long stamp(Shards s, MapBenchmark.Cursor c) {
        return stamped(s, s.order[c.next(s.entries)]);
    }

    /**
     * Step 3: plus an announcement without a fence (an upper bound, see the class comment).
     *
     * @param s the shards
     * @param c this thread's position in its permutation
     * @param r this thread's announcement word
     * @return the value found
     */
    @Benchmark
    public long releaseAnnouncement(Shards s, MapBenchmark.Cursor c, ThreadReader r) {
        return announced(s, c, r, RELEASE);
    }

    /**
     * Step 4: the same announcement with the fence that makes it safe without help from the reclaimer.
     *
     * @param s the shards
     * @param c this thread's position in its permutation
     * @param r this thread's announcement word
     * @return the value found
     */
    @Benchmark
    public long fencedAnnouncement(Shards s, MapBenchmark.Cursor c, ThreadReader r) {
        return announced(s, c, r, FENCED);
    }

    /**
     * Step 4a: the fenced announcement behind an owner check, the cost of knowing which thread is calling.
     *
     * @param s the shards
     * @param c this thread's position in its permutation
     * @param r this thread's announcement word and its owner
     * @return the value found
     */
    @Benchmark
    public long ownerCheckedAnnouncement(Shards s, MapBenchmark.Cursor c, ThreadReader r) {
        return announced(s, c, r, OWNER_CHECKED);
    }

    /**
     * Step 4b: an announcement by atomic adds, which a shared word would need instead of an owner check.
     *
     * @param s the shards
     * @param c this thread's position in its permutation
     * @param r this thread's announcement word
     * @return the value found
     */
    @Benchmark
    public long atomicAnnouncement(Shards s, MapBenchmark.Cursor c, ThreadReader r) {
        return announced(s, c, r, ATOMIC);
    }

    /**
     * Step 5: the real epoch section, reader held by the caller.
     *
     * @param s the shards
     * @param c this thread's position in its permutation
     * @param r this thread's epoch reader
     * @return the value found
     */
    @Benchmark
    public long epochSection(Shards s, MapBenchmark.Cursor c, ThreadReader r) {
        final EpochDomain.Reader reader = r.reader;
        reader.enter();
        try {
            return stamped(s, s.order[c.next(s.entries)]);
        } finally {
            reader.exit();
        }
    }

    /**
     * Step 6: the real epoch section with the reader looked up per get, as the map does.
     *
     * @param s the shards
     * @param c this thread's position in its permutation
     * @return the value found
     */
    @Benchmark
    public long epochSectionWithThreadLocal(Shards s, MapBenchmark.Cursor c) {
        final EpochDomain.Reader reader = s.epochs.reader();
        reader.enter();
        try {
            return stamped(s, s.order[c.next(s.entries)]);
        } finally {
            reader.exit();
        }
    }

    /** The shipped map, loaded with the same keys, for {@link #map}. */
    @State(Scope.Benchmark)
    public static class MapState {
        ShardedHashMap<Long, Long> map;

        /**
         * Loads the map like {@code MapBenchmark} does.
         *
         * @param s the shards' keys
         */
        @Setup(Level.Trial)
        public void setUp(Shards s) {
            map = ShardedHashMap.builder(Long.class, Long.class).expectedEntries(s.entries).build();
            for (long k : s.keys) {
                map.putLong(k, k, LongMap.MISSING);
            }
        }

        /** Frees the map. */
        @TearDown(Level.Trial)
        public void tearDown() {
            map.close();
        }
    }

    /**
     * The shipped {@code ShardedHashMap.getLong}, called directly (no {@code LongMap} adapter).
     *
     * @param s the shards (for the keys)
     * @param m the map
     * @param c this thread's position in its permutation
     * @return the value found
     */
    @Benchmark
    public long map(Shards s, MapState m, MapBenchmark.Cursor c) {
        return m.map.getLong(s.keys[s.order[c.next(s.entries)]], LongMap.MISSING);
    }
}
