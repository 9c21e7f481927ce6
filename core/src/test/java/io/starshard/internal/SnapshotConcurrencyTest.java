package io.starshard.internal;

import io.starshard.RebalanceOptions;
import io.starshard.SnapshotMode;
import io.starshard.codec.LongCodec;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentSpec;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Spliterator;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every snapshot sees every shard's invariant intact while writers keep it, an online rebalance changes the shard
 * count back and forth and other writers churn unrelated keys, in each {@link SnapshotMode}.
 *
 * <p>The invariant: keys come in pairs whose two keys route to the same shard at every shard count the test uses
 * (8, 16 and 32: multiply-shift routing nests their ranges), and a transfer moves an amount from one key of a pair
 * to the other under that shard's write lock, so every pair sums to {@link #PAIR_SUM} at every moment a shard can
 * be captured at. A per-shard consistent snapshot sees every pair's sum; a snapshot that copied a shard half before
 * and half after a transfer, or a key twice (during a rebalance), or missed one, does not.
 */
class SnapshotConcurrencyTest {
    private static final long SEED = 7;
    private static final int PAIRS = 256;
    private static final long PAIR_SUM = 1_000_000;
    /** Keys that are not part of any pair: added and removed all the time, never checked but for their count. */
    private static final long CHURN_BASE = 1L << 40;
    private static final int[] COUNTS = {8, 16, 32};
    private static final long MILLIS = Long.getLong("starshard.snapshot.millis",
        Boolean.getBoolean("starshard.stress") ? 60_000 : 1_500);

    private static MapEngine<Long, Long> engine(SnapshotMode mode) {
        return MapEngine.create(Long.class, Long.class, LongCodec.INSTANCE, LongCodec.INSTANCE, new KeyHasher(SEED),
            COUNTS[0], 1 << 10, OffHeapMemory.UNLIMITED, 0, SegmentSpec.DEFAULT_MAX_PAUSE_NANOS, mode, 4);
    }

    /** Pairs of keys in the same shard at 32 shards (so also at 16 and 8). */
    private static long[][] pairs() {
        final KeyHasher hasher = new KeyHasher(SEED);
        final Map<Integer, Long> waiting = new HashMap<>();
        final List<long[]> pairs = new ArrayList<>();
        for (long k = 1; pairs.size() < PAIRS; k++) {
            final int shard = KeyHasher.shardIndex(hasher.hashFixed(k), 32);
            final Long other = waiting.remove(shard);
            if (other == null) {
                waiting.put(shard, k);
            } else {
                pairs.add(new long[] {other, k});
            }
        }
        return pairs.toArray(new long[0][]);
    }

    @ParameterizedTest
    @EnumSource(SnapshotMode.class)
    void everySnapshotSeesEveryShardsInvariant(SnapshotMode mode) throws Exception {
        final long[][] pairs = pairs();
        final MapEngine<Long, Long> engine = engine(mode);
        try {
            for (long[] pair : pairs) {
                engine.put(pair[0], PAIR_SUM / 2, false);
                engine.put(pair[1], PAIR_SUM / 2, false);
            }
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            final long deadline = System.nanoTime() + MILLIS * 1_000_000L;
            final AtomicLong snapshots = new AtomicLong();
            final AtomicLong transfers = new AtomicLong();
            final AtomicLong rebalances = new AtomicLong();
            final List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                threads.add(worker(failure, deadline, () -> transfers.addAndGet(transfer(engine, pairs))));
            }
            threads.add(worker(failure, deadline, () -> churn(engine)));
            threads.add(worker(failure, deadline, () -> {
                checkSnapshot(engine, pairs, ThreadLocalRandom.current().nextBoolean());
                snapshots.incrementAndGet();
            }));
            threads.add(worker(failure, deadline, () -> {
                final int target = COUNTS[ThreadLocalRandom.current().nextInt(COUNTS.length)];
                engine.startRebalance(target, RebalanceOptions.defaults().batchSize(64));
                while (engine.rebalanceStatus().state() == io.starshard.RebalanceStatus.State.MIGRATING) {
                    engine.advanceRebalance(64);
                    Thread.yield();
                }
                rebalances.incrementAndGet();
            }));
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join(MILLIS + 60_000);
                assertTrue(!t.isAlive(), t.getName() + " hangs");
            }
            if (failure.get() != null) {
                throw new AssertionError("a worker failed: " + failure.get(), failure.get());
            }
            checkSnapshot(engine, pairs, true);
            assertTrue(snapshots.get() > 3 && transfers.get() > 100 && rebalances.get() > 0,
                "every role ran: " + snapshots + " snapshots, " + transfers + " transfers, " + rebalances
                    + " rebalances");
            System.out.println("snapshots " + mode + ": " + snapshots + " snapshots, " + transfers + " transfers, "
                + rebalances + " rebalances, " + engine.snapshots().stats());
        } finally {
            engine.close();
        }
        assertEquals(0, engine.snapshots().stats().imageBytes(), "every copy freed once the map and snapshots closed");
    }

    private static Thread worker(AtomicReference<Throwable> failure, long deadline, Runnable step) {
        final Thread t = new Thread(() -> {
            try {
                while (failure.get() == null && System.nanoTime() < deadline) {
                    step.run();
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        });
        t.setDaemon(true);
        return t;
    }

    /** Moves an amount between the two keys of random pairs, each under its shard range's write locks. */
    private static int transfer(MapEngine<Long, Long> engine, long[][] pairs) {
        final ShardTable shards = engine.shardTable();
        final KeyHasher hasher = new KeyHasher(SEED);
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        int done = 0;
        for (int i = 0; i < 50; i++) {
            final long[] pair = pairs[random.nextInt(pairs.length)];
            final long hashA = hasher.hashFixed(pair[0]);
            final long hashB = hasher.hashFixed(pair[1]);
            final long amount = random.nextLong(-1000, 1000);
            while (true) {
                final ShardTable.Layout l = shards.layout();
                final int index = KeyHasher.shardIndex(hashA, l.count);
                final long from = KeyHasher.shardStart(index, l.count);
                final long to = KeyHasher.shardStart(index + 1, l.count);
                final long r = shards.withGroupLocked(l, index, from, to, true, (group, previousCount, whole) -> {
                    final Located a = locate(group, hashA, pair[0]);
                    final Located b = locate(group, hashB, pair[1]);
                    final long va = a.segment.readValueLong(a.slot);
                    final long vb = b.segment.readValueLong(b.slot);
                    a.segment.replaceValueLong(a.slot, va - amount);
                    b.segment.replaceValueLong(b.slot, vb + amount);
                    return 0;
                });
                if (r != ShardTable.STALE) {
                    break;
                }
            }
            done++;
        }
        return done;
    }

    private record Located(Segment segment, int slot) {
    }

    private static Located locate(Shard[] group, long hash, long key) {
        final UnsafeBuffer keyBytes = new UnsafeBuffer(new byte[8]);
        keyBytes.putLong(0, key, ByteOrder.LITTLE_ENDIAN);
        for (Shard shard : group) {
            if (shard != null) {
                final int slot = shard.segment.find(hash, keyBytes, 0, 8);
                if (slot >= 0) {
                    return new Located(shard.segment, slot);
                }
            }
        }
        throw new AssertionError("key " + key + " is in none of its range's shards");
    }

    /** Adds and removes keys outside the pairs, through the ordinary write path (copy-on-write hooks included). */
    private static void churn(MapEngine<Long, Long> engine) {
        final ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < 200; i++) {
            final long k = CHURN_BASE + random.nextInt(5_000);
            if (random.nextBoolean()) {
                engine.put(k, k, false);
            } else {
                engine.remove(k);
            }
        }
    }

    /** Takes a snapshot (sometimes versioned, then found again by its version) and checks every pair. */
    private static void checkSnapshot(MapEngine<Long, Long> engine, long[][] pairs, boolean scan) {
        final boolean versioned = ThreadLocalRandom.current().nextBoolean();
        SnapshotView<Long, Long> view = engine.snapshots().snapshot(versioned);
        if (versioned) {
            final SnapshotView<Long, Long> again = engine.snapshots().snapshotAtVersion(view.version()).orElseThrow();
            view.release();
            view = again;
        }
        try {
            for (long[] pair : pairs) {
                final Long a = view.get(pair[0]);
                final Long b = view.get(pair[1]);
                assertNotNull(a, "pair key " + pair[0] + " missing");
                assertNotNull(b, "pair key " + pair[1] + " missing");
                assertEquals(PAIR_SUM, a + b, "pair " + pair[0] + "/" + pair[1] + " seen mid-transfer");
            }
            assertNull(view.get(0L));
            if (scan) {
                final Map<Long, Long> seen = new HashMap<>();
                final Spliterator<Map.Entry<Long, Long>> all = view.spliterator();
                all.forEachRemaining(e -> assertNull(seen.put(e.getKey(), e.getValue()), "key twice: " + e));
                assertEquals(view.size(), seen.size(), "size() vs entries scanned");
                for (long[] pair : pairs) {
                    assertEquals(PAIR_SUM, seen.get(pair[0]) + seen.get(pair[1]), "scan: pair seen mid-transfer");
                }
            }
        } finally {
            view.release();
        }
    }
}
