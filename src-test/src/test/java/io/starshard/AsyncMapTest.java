package io.starshard;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link AsyncShardedHashMap}: the same results as the synchronous map for a random operation sequence (with and
 * without a lock holder forcing operations onto the executor); an event-loop thread never waits for a lock another
 * thread holds; thousands of outstanding futures from four threads give exact counts, and closing mid-way fails the
 * rest with the closed map's exception; failures carry the synchronous exception types; a cancelled operation
 * never half-happens; a serialisable snapshot rebuilds an equal map.
 */
class AsyncMapTest {

    /** Holds the write lock of {@code key}'s shard (inside a compute) until {@link #release}. */
    static final class LockHolder implements AutoCloseable {
        final CountDownLatch held = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final Thread thread;

        LockHolder(ShardedHashMap<Long, Long> map, long key) throws InterruptedException {
            thread = new Thread(() -> map.compute(key, (k, v) -> {
                held.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return v;
            }));
            thread.start();
            assertTrue(held.await(30, TimeUnit.SECONDS), "the holder took the lock");
        }

        void release() {
            release.countDown();
        }

        @Override
        public void close() {
            release();
            try {
                thread.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void aRandomSequenceGivesTheSyncMapsResults() throws Exception {
        for (boolean contended : new boolean[] {false, true}) {
            try (ShardedHashMap<Long, Long> sync = ShardedHashMap.withShards(Long.class, Long.class, 4);
                 AsyncShardedHashMap<Long, Long> async = ShardedHashMap.builder(Long.class, Long.class).shards(4)
                     .buildAsync()) {
                // A contender takes the shards' locks in turn (computing keys that stay absent), so that many
                // operations find their lock taken and go through the executor.
                final AtomicBoolean stop = new AtomicBoolean();
                final Thread contender = new Thread(() -> {
                    final Random r = new Random(3);
                    while (!stop.get()) {
                        async.sync().compute(1_000_000L + r.nextInt(1_000), (key, old) -> {
                            final long until = System.nanoTime() + 20_000;
                            while (System.nanoTime() < until) {
                                Thread.onSpinWait();
                            }
                            return old;
                        });
                    }
                });
                if (contended) {
                    contender.start();
                }
                final Random random = new Random(contended ? 2 : 1);
                for (int i = 0; i < 20_000; i++) {
                    final long k = random.nextInt(500);
                    final long v = random.nextInt(1_000);
                    final Object expected;
                    final CompletableFuture<?> actual;
                    switch (random.nextInt(15)) {
                        case 0: expected = sync.get(k); actual = async.get(k); break;
                        case 1: expected = sync.containsKey(k); actual = async.containsKey(k); break;
                        case 2: expected = sync.set(k, v); actual = async.set(k, v); break;
                        case 3: expected = sync.putIfAbsent(k, v); actual = async.putIfAbsent(k, v); break;
                        case 4: expected = sync.replace(k, v); actual = async.replace(k, v); break;
                        case 5: expected = sync.remove(k); actual = async.remove(k); break;
                        case 6: expected = sync.remove(k, v); actual = async.remove(k, v); break;
                        case 7: expected = sync.computeIfAbsent(k, key -> key * 3);
                            actual = async.computeIfAbsent(k, key -> key * 3); break;
                        case 8: expected = sync.computeIfPresent(k, (key, old) -> old % 2 == 0 ? null : old + 1);
                            actual = async.computeIfPresent(k, (key, old) -> old % 2 == 0 ? null : old + 1); break;
                        case 9: expected = sync.merge(k, v, Long::sum); actual = async.merge(k, v, Long::sum); break;
                        case 10: expected = sync.addAndGetLong(k, v); actual = async.addAndGetLong(k, v); break;
                        case 11: {
                            final Map<Long, Long> batch = new HashMap<>();
                            for (int j = 0; j < 5; j++) {
                                batch.put((long) random.nextInt(500), (long) j);
                            }
                            expected = sync.batchInsert(batch);
                            actual = async.batchInsert(batch);
                            break;
                        }
                        case 12: {
                            final List<Long> keys = List.of(k, k + 1, k + 2);
                            expected = sync.batchGet(keys);
                            actual = async.batchGet(keys);
                            break;
                        }
                        case 13: {
                            final List<Long> keys = List.of(k, k + 3);
                            expected = sync.batchRemove(keys);
                            actual = async.batchRemove(keys);
                            break;
                        }
                        default: expected = sync.mappingCount(); actual = async.len();
                    }
                    assertEquals(expected, actual.get(30, TimeUnit.SECONDS), "operation " + i);
                }
                stop.set(true);
                if (contended) {
                    contender.join(30_000);
                }
                assertEquals(new HashMap<>(sync), new HashMap<>(async.sync()));
                MapInvariants.checkLive(async.sync());
            }
        }
    }

    @Test
    void anEventLoopNeverWaitsForAShardLock() throws Exception {
        final ExecutorService eventLoop = Executors.newSingleThreadExecutor();
        try (AsyncShardedHashMap<Long, Long> async = ShardedHashMap.builder(Long.class, Long.class).shards(2)
            .buildAsync()) {
            for (long k = 0; k < 1_000; k++) {
                async.sync().put(k, k);
            }
            final LockHolder holder = new LockHolder(async.sync(), 0L);   // every key of shard 0 is locked now
            final CountDownLatch heartbeat = new CountDownLatch(1);
            final List<CompletableFuture<?>> futures = new ArrayList<>();
            eventLoop.execute(() -> {
                for (long k = 0; k < 1_000; k++) {   // half of them in the locked shard
                    futures.add(async.get(k));
                    futures.add(async.addAndGetLong(k, 1));
                    futures.add(async.containsKey(k));
                    futures.add(async.merge(k, 1L, Long::sum));
                    futures.add(async.remove(k + 10_000));
                }
                futures.add(async.batchGet(List.of(0L, 1L, 2L, 3L)));
            });
            eventLoop.execute(heartbeat::countDown);   // runs only once the loop above has issued everything
            // The heartbeat runs while the lock is still held: the loop never waited for it. If it had, the
            // heartbeat would come only after the release, which this await alone cannot cause (it times out).
            final boolean ranWhileHeld = heartbeat.await(30, TimeUnit.SECONDS);
            final boolean someWaitedForTheLock = futures.stream().anyMatch(f -> !f.isDone());
            holder.close();
            assertTrue(ranWhileHeld, "the event loop thread waited for the shard lock");
            assertTrue(someWaitedForTheLock, "operations on the locked shard were handed to the executor");
            CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(30, TimeUnit.SECONDS);
            for (long k = 0; k < 1_000; k++) {
                assertEquals(k + 2, async.sync().get(k), "key " + k);
            }
        } finally {
            eventLoop.shutdownNow();
        }
    }

    @Test
    void thousandsOfOutstandingFuturesCountExactlyAndCloseFailsTheRest() throws Exception {
        final int threads = 4;
        final int perThread = 25_000;
        try (AsyncShardedHashMap<Long, Long> async = ShardedHashMap.builder(Long.class, Long.class).shards(8)
            .buildAsync()) {
            final List<CompletableFuture<?>> all = java.util.Collections.synchronizedList(new ArrayList<>());
            runThreads(threads, t -> {
                for (int i = 0; i < perThread; i++) {
                    all.add(async.merge((long) (i % 64), 1L, Long::sum));
                    all.add(async.addAndGetLong(1_000L + t, 1));
                }
            });
            CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).get(60, TimeUnit.SECONDS);
            long sum = 0;
            for (long k = 0; k < 64; k++) {
                sum += async.sync().get(k);
            }
            assertEquals((long) threads * perThread, sum, "every merge counted once");
            for (int t = 0; t < threads; t++) {
                assertEquals(perThread, async.sync().get(1_000L + t));
            }
        }
        // Closing in the middle: every future completes, normally or with the closed map's exception.
        final AsyncShardedHashMap<Long, Long> async = ShardedHashMap.builder(Long.class, Long.class).shards(8)
            .buildAsync();
        final List<CompletableFuture<?>> all = java.util.Collections.synchronizedList(new ArrayList<>());
        final LockHolder holder = new LockHolder(async.sync(), 7L);   // some operations wait on the executor
        final CountDownLatch issuing = new CountDownLatch(threads);
        final Thread closer = new Thread(() -> {
            try {
                issuing.await();
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
            holder.release();
            async.close();
        });
        closer.start();
        runThreads(threads, t -> {
            issuing.countDown();
            for (int i = 0; i < perThread; i++) {
                all.add(async.merge((long) (i % 64), 1L, Long::sum));
            }
        });
        closer.join(30_000);
        holder.close();
        int failed = 0;
        for (CompletableFuture<?> f : all) {
            try {
                f.get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                assertInstanceOf(IllegalStateException.class, e.getCause());
                assertTrue(e.getCause().getMessage().contains("closed"), e.getCause().getMessage());
                failed++;
            }
        }
        assertTrue(failed > 0, "operations after the close failed");
        assertEquals(0, async.sync().memoryStats().usedBytes(), "a closed map holds no memory");
    }

    @Test
    void failuresCarryTheSynchronousExceptionTypes() throws Exception {
        try (AsyncShardedHashMap<String, byte[]> async = ShardedHashMap.builder(String.class, byte[].class)
            .shards(1).memoryBudget(256L << 10).maxEntryBytes(1_000).buildAsync()) {
            assertInstanceOf(io.starshard.offheap.EntryTooLargeException.class,
                cause(async.put("big", new byte[5_000])));
            Throwable full = null;
            for (int i = 0; i < 10_000 && full == null; i++) {
                full = causeOrNull(async.put("k" + i, new byte[900]));
            }
            assertInstanceOf(io.starshard.offheap.OffHeapMemoryExhaustedException.class, full);
            assertInstanceOf(NullPointerException.class, cause(async.batchGet(Arrays.asList("a", null))));
            assertInstanceOf(ShardCountException.class, cause(async.rebalanceTo(-1)));
        }
        final AsyncShardedHashMap<Long, Long> closed = ShardedHashMap.create(Long.class, Long.class).async();
        closed.close();
        assertInstanceOf(IllegalStateException.class, cause(closed.get(1L)));
        assertInstanceOf(IllegalStateException.class, cause(closed.put(1L, 1L)));
        assertInstanceOf(IllegalStateException.class, cause(closed.snapshot()));
    }

    @Test
    void aCancelledOperationThatHasNotStartedNeverHappens() throws Exception {
        final ArrayDeque<Runnable> queued = new ArrayDeque<>();
        final Executor manual = queued::add;
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.withShards(Long.class, Long.class, 1)) {
            final AsyncShardedHashMap<Long, Long> async = map.async(manual);
            map.put(1L, 1L);
            final CompletableFuture<Integer> batch;
            final CompletableFuture<Long> put;
            final LockHolder holder = new LockHolder(map, 1L);
            try {
                put = async.put(2L, 2L);   // the one shard is locked: queued
                batch = async.batchInsert(Map.of(3L, 3L, 4L, 4L));
                assertFalse(put.isDone());
                assertTrue(put.cancel(false));
                assertTrue(batch.cancel(false));
            } finally {
                holder.close();
            }
            while (!queued.isEmpty()) {
                queued.poll().run();
            }
            assertEquals(Map.of(1L, 1L), new HashMap<>(map), "neither the put nor any of the batch happened");
            // A started operation runs to its end: a batch that is queued and then run completes whole.
            try (LockHolder second = new LockHolder(map, 1L)) {
                final CompletableFuture<Integer> whole = async.batchInsert(Map.of(5L, 5L, 6L, 6L, 7L, 7L));
                second.release();
                second.thread.join(30_000);
                queued.poll().run();
                assertEquals(3, whole.get(30, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void aSerialisableSnapshotRebuildsAnEqualAsyncMap() throws Exception {
        try (AsyncShardedHashMap<String, String> async = ShardedHashMap.builder(String.class, String.class)
            .shards(8).buildAsync()) {
            for (int i = 0; i < 1_000; i++) {
                async.put("k" + i, "v" + i).get();
            }
            final byte[] bytes;
            try (MapSnapshot<String, String> snapshot = async.snapshot().get(30, TimeUnit.SECONDS)) {
                final ByteArrayOutputStream out = new ByteArrayOutputStream();
                try (ObjectOutputStream o = new ObjectOutputStream(out)) {
                    o.writeObject(snapshot);
                }
                bytes = out.toByteArray();
            }
            @SuppressWarnings("unchecked")
            final Map<String, String> read;
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
                @SuppressWarnings("unchecked")
                final Map<String, String> m = (Map<String, String>) in.readObject();
                read = m;
            }
            try (AsyncShardedHashMap<String, String> rebuilt = ShardedHashMap.builder(String.class, String.class)
                .shards(4).buildAsync()) {
                assertEquals(1_000, rebuilt.batchInsert(read).get(30, TimeUnit.SECONDS));
                assertEquals(new HashMap<>(async.sync()), new HashMap<>(rebuilt.sync()));
            }
            if (read instanceof AutoCloseable) {
                ((AutoCloseable) read).close();
            }
        }
    }

    @Test
    void anAsyncPersistedMapJournalsEveryOperation(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
        throws Exception {
        final java.nio.file.Path where = dir.resolve("map");
        final Map<Long, Long> model = new HashMap<>();
        try (AsyncShardedHashMap<Long, Long> async = ShardedHashMap.builder(Long.class, Long.class).shards(4)
            .persistedTo(where).buildAsync()) {
            final List<CompletableFuture<?>> futures = new ArrayList<>();
            for (long k = 0; k < 2_000; k++) {
                futures.add(async.put(k, k));
                model.put(k, k);
            }
            CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])).get(30, TimeUnit.SECONDS);
            // Remapping functions of a persisted map run on the executor, exactly once each.
            final AtomicInteger calls = new AtomicInteger();
            for (long k = 0; k < 500; k++) {
                assertEquals(k * 2, async.computeIfPresent(k, (key, v) -> {
                    calls.incrementAndGet();
                    return v * 2;
                }).get(30, TimeUnit.SECONDS));
                model.put(k, k * 2);
            }
            assertEquals(500, calls.get());
            assertEquals(500, async.batchRemove(List.of(1_500L, 1_501L)).thenApply(n -> n * 250).get());
            model.remove(1_500L);
            model.remove(1_501L);
        }
        try (ShardedHashMap<Long, Long> reopened = ShardedHashMap.builder(Long.class, Long.class)
            .persistedTo(where).build()) {
            assertEquals(model, new HashMap<>(reopened));
        }
    }

    private interface Body {
        void run(int thread) throws Exception;
    }

    private static void runThreads(int n, Body body) throws InterruptedException {
        final List<Thread> threads = new ArrayList<>();
        final AtomicInteger failures = new AtomicInteger();
        final List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < n; t++) {
            final int id = t;
            final Thread thread = new Thread(() -> {
                try {
                    body.run(id);
                } catch (Throwable e) {
                    failures.incrementAndGet();
                    errors.add(e);
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join(120_000);
            assertFalse(thread.isAlive(), "a thread did not finish");
        }
        if (failures.get() > 0) {
            fail("a thread failed", errors.get(0));
        }
    }

    private static Throwable cause(CompletableFuture<?> f) throws Exception {
        final Throwable t = causeOrNull(f);
        if (t == null) {
            fail("the future completed normally");
        }
        return t;
    }

    private static Throwable causeOrNull(CompletableFuture<?> f) throws Exception {
        try {
            f.get(30, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }
}
