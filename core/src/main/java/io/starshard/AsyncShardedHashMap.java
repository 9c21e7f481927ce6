package io.starshard;

import io.starshard.internal.BulkOperations;
import io.starshard.internal.MapEngine;
import io.starshard.internal.NonBlockingCall;
import io.starshard.internal.NonBlockingCall.Call;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The {@link ShardedHashMap} for code that must never park a thread: event loops (Netty, Vert.x), reactive
 * pipelines, servers on virtual threads. Every operation returns a {@link CompletableFuture} and never waits for a
 * lock in the caller's thread.
 *
 * <p><b>How.</b> An operation first runs in the caller's thread in a mode where every lock of this map is tried, not
 * waited for: an optimistic read that validates, a shard's write lock that is free, a journal lane that is free.
 * Then the future is already complete when it is returned. If a lock is taken, the operation stops at that lock,
 * before it has changed anything, and runs again on the map's {@link Executor}, which completes the future there.
 * Scans and administration (clear, retain, snapshots, stats that read every shard, rebalances) always run on the
 * executor. The default executor runs each task on a virtual thread on JDK 21 and later, and otherwise on a
 * cached pool of daemon threads; {@link ShardedHashMapBuilder#buildAsync(Executor)} and
 * {@link ShardedHashMap#async(Executor)} take another.
 *
 * <p><b>Same storage, same rules.</b> This is a view: {@link ShardedHashMap#async()} and {@link #sync()} go back
 * and forth over one map, and the synchronous map's guarantees hold (per-key linearizable writes, the budget,
 * snapshots). A future fails with the exception the synchronous method would have thrown
 * ({@code IllegalStateException} for a closed map, {@code OffHeapMemoryExhaustedException},
 * {@code CodecException}, {@code EntryTooLargeException}, {@link ShardCountException}, {@code NullPointerException}).
 * A remapping function runs at most once, on whichever thread runs the operation; on a persisted map it always
 * runs on the executor (its journal lane is locked after the function).
 *
 * <p><b>Closing and cancelling.</b> {@link #close()} closes the map: operations still waiting for the executor fail
 * with the closed map's {@code IllegalStateException}. Cancelling a future that has not started keeps its operation
 * from running; once started, an operation (a batch too) runs to its end. Either way the map is left as if the
 * operation had happened entirely or not at all.
 *
 * @param <K> key type
 * @param <V> value type
 */
public final class AsyncShardedHashMap<K, V> implements AutoCloseable {
    private final ShardedHashMap<K, V> map;
    private final MapEngine<K, V> engine;
    private final Executor executor;

    AsyncShardedHashMap(ShardedHashMap<K, V> map, Executor executor) {
        this.map = map;
        this.engine = map.engine();
        this.executor = Objects.requireNonNull(executor, "executor");
    }

    /**
     * The executor an asynchronous map uses unless given another: a new virtual thread per task on JDK 21 and later,
     * otherwise a cached pool of daemon threads (idle ones end after 30 s). Shared by every map; it never keeps
     * the JVM alive.
     *
     * @return the default executor
     */
    public static Executor defaultExecutor() {
        return DefaultExecutor.INSTANCE;
    }

    /**
     * The synchronous map this view works on (same storage).
     *
     * @return the map
     */
    public ShardedHashMap<K, V> sync() {
        return map;
    }

    /**
     * The executor contended operations and scans run on.
     *
     * @return the executor
     */
    public Executor executor() {
        return executor;
    }

    // =========================================================================================================
    // Single keys: inline when no lock has to be waited for
    // =========================================================================================================

    /**
     * {@link ShardedHashMap#get(Object)}.
     *
     * @param key the key
     * @return the value, or null
     */
    public CompletableFuture<V> get(Object key) {
        return call((m, k, unused) -> m.get(k), key, null);
    }

    /**
     * {@link ShardedHashMap#getLong(long, long)} of a {@code Long -> Long} map.
     *
     * @param key          the key
     * @param missingValue returned if absent
     * @return the value, or {@code missingValue}
     */
    public CompletableFuture<Long> getLong(long key, long missingValue) {
        return call((m, k, missing) -> m.getLong(k, missing), key, missingValue);
    }

    /**
     * {@link ShardedHashMap#containsKey(Object)}.
     *
     * @param key the key
     * @return whether present
     */
    public CompletableFuture<Boolean> containsKey(Object key) {
        return call((m, k, unused) -> m.containsKey(k), key, null);
    }

    /**
     * {@link ShardedHashMap#put}.
     *
     * @param key   the key
     * @param value the value
     * @return the previous value, or null
     */
    public CompletableFuture<V> put(K key, V value) {
        return call(ShardedHashMap::put, key, value);
    }

    /**
     * {@link ShardedHashMap#insert}: the original API's name for {@link #put}.
     *
     * @param key   the key
     * @param value the value
     * @return the previous value, or null
     */
    public CompletableFuture<V> insert(K key, V value) {
        return put(key, value);
    }

    /**
     * {@link ShardedHashMap#set}: a put that does not decode the previous value.
     *
     * @param key   the key
     * @param value the value
     * @return true if the key was new
     */
    public CompletableFuture<Boolean> set(K key, V value) {
        return call(ShardedHashMap::set, key, value);
    }

    /**
     * {@link ShardedHashMap#putLong(long, long, long)} of a {@code Long -> Long} map.
     *
     * @param key          the key
     * @param value        the value
     * @param missingValue returned if the key was absent
     * @return the previous value, or {@code missingValue}
     */
    public CompletableFuture<Long> putLong(long key, long value, long missingValue) {
        return call((m, k, v) -> m.putLong(k, v, missingValue), key, value);
    }

    /**
     * {@link ShardedHashMap#addAndGetLong(long, long)} of a {@code Long -> Long} map.
     *
     * @param key   the key
     * @param delta added to the value (an absent key counts as 0)
     * @return the new value
     */
    public CompletableFuture<Long> addAndGetLong(long key, long delta) {
        return call((m, k, d) -> m.addAndGetLong(k, d), key, delta);
    }

    /**
     * {@link ShardedHashMap#putIfAbsent}.
     *
     * @param key   the key
     * @param value the value
     * @return the present value, or null if {@code value} was put
     */
    public CompletableFuture<V> putIfAbsent(K key, V value) {
        return call(ShardedHashMap::putIfAbsent, key, value);
    }

    /**
     * {@link ShardedHashMap#replace(Object, Object)}.
     *
     * @param key   the key
     * @param value the new value
     * @return the previous value, or null if absent (then nothing was put)
     */
    public CompletableFuture<V> replace(K key, V value) {
        return call(ShardedHashMap::replace, key, value);
    }

    /**
     * {@link ShardedHashMap#remove(Object)}.
     *
     * @param key the key
     * @return the removed value, or null
     */
    public CompletableFuture<V> remove(Object key) {
        return call((m, k, unused) -> m.remove(k), key, null);
    }

    /**
     * {@link ShardedHashMap#remove(Object, Object)}.
     *
     * @param key   the key
     * @param value the value it must have
     * @return whether it was removed
     */
    public CompletableFuture<Boolean> remove(Object key, Object value) {
        return call(ShardedHashMap::remove, key, value);
    }

    /**
     * {@link ShardedHashMap#computeIfAbsent}: the function runs at most once, under the key's shard lock.
     *
     * @param key             the key
     * @param mappingFunction computes the value of an absent key
     * @return the present or computed value (null if the function returned null)
     */
    public CompletableFuture<V> computeIfAbsent(K key, Function<? super K, ? extends V> mappingFunction) {
        return call(ShardedHashMap::computeIfAbsent, key, mappingFunction);
    }

    /**
     * {@link ShardedHashMap#computeIfPresent}: the function runs at most once, under the key's shard lock.
     *
     * @param key               the key
     * @param remappingFunction computes the new value of a present key (null removes it)
     * @return the new value, or null
     */
    public CompletableFuture<V> computeIfPresent(K key, BiFunction<? super K, ? super V, ? extends V> remappingFunction) {
        return call(ShardedHashMap::computeIfPresent, key, remappingFunction);
    }

    /**
     * {@link ShardedHashMap#compute}: the function runs at most once, under the key's shard lock.
     *
     * @param key               the key
     * @param remappingFunction computes the new value (null removes)
     * @return the new value, or null
     */
    public CompletableFuture<V> compute(K key, BiFunction<? super K, ? super V, ? extends V> remappingFunction) {
        return call(ShardedHashMap::compute, key, remappingFunction);
    }

    /**
     * {@link ShardedHashMap#merge}: the function runs at most once, under the key's shard lock.
     *
     * @param key               the key
     * @param value             put if absent
     * @param remappingFunction combines the present value with {@code value} (null removes)
     * @return the new value, or null
     */
    public CompletableFuture<V> merge(K key, V value, BiFunction<? super V, ? super V, ? extends V> remappingFunction) {
        return call((m, k, fn) -> m.merge(k, value, fn), key, remappingFunction);
    }

    // =========================================================================================================
    // Batches: inline key by key; the rest on the executor from the first key that would wait
    // =========================================================================================================

    /**
     * {@link ShardedHashMap#batchInsert(Map)}: writes the entries one by one; a null key or value anywhere fails the
     * future with {@code NullPointerException} and nothing is written; a later failure with
     * {@link BatchWriteException}, which says how many were written.
     *
     * @param entries the entries
     * @return how many keys were new
     */
    public CompletableFuture<Integer> batchInsert(Map<? extends K, ? extends V> entries) {
        return batchInsert(entries.entrySet());
    }

    /**
     * {@link ShardedHashMap#batchInsert(Collection)}, as {@link #batchInsert(Map)}.
     *
     * @param entries the entries
     * @return how many keys were new
     */
    public CompletableFuture<Integer> batchInsert(Collection<? extends Map.Entry<? extends K, ? extends V>> entries) {
        try {
            BulkOperations.requireNoNullEntries("batchInsert", entries);
        } catch (NullPointerException e) {
            return CompletableFuture.failedFuture(e);
        }
        final List<Map.Entry<? extends K, ? extends V>> list = new ArrayList<>(entries.size());
        for (Map.Entry<? extends K, ? extends V> e : entries) {
            list.add(Map.entry(e.getKey(), e.getValue()));   // a copy: the caller may change its entries meanwhile
        }
        final int[] added = new int[1];
        return batch(list, (m, entry, index) -> {
            if (m.set(entry.getKey(), entry.getValue())) {
                added[0]++;
            }
            return null;
        }, () -> added[0], (e, index) -> new BatchWriteException("batchInsert", index, index, list.size(), e));
    }

    /**
     * {@link ShardedHashMap#batchGet}: the values in input order, null where absent.
     *
     * @param keys the keys (none null)
     * @return a new list
     */
    public CompletableFuture<List<V>> batchGet(Collection<? extends K> keys) {
        final List<K> list;
        try {
            list = copyKeys("batchGet", keys);
        } catch (NullPointerException e) {
            return CompletableFuture.failedFuture(e);
        }
        final List<V> values = new ArrayList<>(list.size());
        return batch(list, (m, key, index) -> {
            values.add(m.get(key));
            return null;
        }, () -> values, null);
    }

    /**
     * {@link ShardedHashMap#batchRemove}.
     *
     * @param keys the keys (none null)
     * @return how many were present and removed
     */
    public CompletableFuture<Integer> batchRemove(Collection<? extends K> keys) {
        final List<K> list;
        try {
            list = copyKeys("batchRemove", keys);
        } catch (NullPointerException e) {
            return CompletableFuture.failedFuture(e);
        }
        final int[] removed = new int[1];
        return batch(list, (m, key, index) -> {
            if (m.remove(key) != null) {
                removed[0]++;
            }
            return null;
        }, () -> removed[0], null);
    }

    // =========================================================================================================
    // Counts, administration, scans and snapshots
    // =========================================================================================================

    /**
     * {@link ShardedHashMap#mappingCount()} (the original's {@code len}); never waits, so always complete.
     *
     * @return the number of entries
     */
    public CompletableFuture<Long> len() {
        return call((m, a, b) -> m.mappingCount(), null, null);
    }

    /**
     * {@link ShardedHashMap#isEmpty()}; never waits, so always complete.
     *
     * @return whether the map is empty
     */
    public CompletableFuture<Boolean> isEmpty() {
        return call((m, a, b) -> m.isEmpty(), null, null);
    }

    /**
     * {@link ShardedHashMap#clear()}, on the executor.
     *
     * @return completes when every entry is removed
     */
    public CompletableFuture<Void> clear() {
        return onExecutor(m -> {
            m.clear();
            return null;
        });
    }

    /**
     * {@link ShardedHashMap#shardStats()}, on the executor.
     *
     * @return the statistics
     */
    public CompletableFuture<ShardStats> shardStats() {
        return onExecutor(ShardedHashMap::shardStats);
    }

    /**
     * {@link ShardedHashMap#perShardLoad()}, on the executor.
     *
     * @return entries per shard
     */
    public CompletableFuture<long[]> perShardLoad() {
        return onExecutor(ShardedHashMap::perShardLoad);
    }

    /**
     * {@link ShardedHashMap#memoryStats()}, on the executor.
     *
     * @return the off-heap memory in use
     */
    public CompletableFuture<MemoryStats> memoryStats() {
        return onExecutor(ShardedHashMap::memoryStats);
    }

    /**
     * {@link ShardedHashMap#rebalanceTo(int)}: a stop-the-world rebalance, on the executor.
     *
     * @param shards the new shard count
     * @return the report
     */
    public CompletableFuture<RebalanceReport> rebalanceTo(int shards) {
        return onExecutor(m -> m.rebalanceTo(shards));
    }

    /**
     * {@link ShardedHashMap#startRebalanceOnline(int)}, on the executor.
     *
     * @param shards the new shard count
     * @return the status after starting
     */
    public CompletableFuture<RebalanceStatus> startRebalanceOnline(int shards) {
        return onExecutor(m -> m.startRebalanceOnline(shards));
    }

    /**
     * {@link ShardedHashMap#advanceRebalance(long)}, on the executor.
     *
     * @param budget how many entries to move at most
     * @return the status afterwards
     */
    public CompletableFuture<RebalanceStatus> advanceRebalance(long budget) {
        return onExecutor(m -> m.advanceRebalance(budget));
    }

    /**
     * {@link ShardedHashMap#rebalanceStatus()}, on the executor.
     *
     * @return the status
     */
    public CompletableFuture<RebalanceStatus> rebalanceStatus() {
        return onExecutor(ShardedHashMap::rebalanceStatus);
    }

    /**
     * {@link ShardedHashMap#snapshot()}, on the executor. The snapshot is {@link java.io.Serializable} (entries and
     * shard count): this is the original API's serialisable snapshot. To rebuild an asynchronous map from one
     * (deserialised, or another map's), build a map and insert it: {@code builder.buildAsync().batchInsert(snapshot)}.
     *
     * @return the snapshot; close it when done
     */
    public CompletableFuture<MapSnapshot<K, V>> snapshot() {
        return onExecutor(ShardedHashMap::snapshot);
    }

    /**
     * {@link ShardedHashMap#versionedSnapshot()}, on the executor.
     *
     * @return the snapshot, retained by the map if it retains versions
     */
    public CompletableFuture<MapSnapshot<K, V>> versionedSnapshot() {
        return onExecutor(ShardedHashMap::versionedSnapshot);
    }

    /**
     * {@link ShardedHashMap#snapshotAtVersion(long)}, on the executor.
     *
     * @param version a version a versioned snapshot returned
     * @return the retained snapshot of that version, or empty
     */
    public CompletableFuture<Optional<MapSnapshot<K, V>>> snapshotAtVersion(long version) {
        return onExecutor(m -> m.snapshotAtVersion(version));
    }

    /**
     * {@link ShardedHashMap#snapshotStats()}; never waits, so always complete.
     *
     * @return what snapshots have cost
     */
    public CompletableFuture<SnapshotStats> snapshotStats() {
        return call((m, a, b) -> m.snapshotStats(), null, null);
    }

    /**
     * Whether the map is closed.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return map.isClosed();
    }

    /**
     * Closes the map (the synchronous one too: they are one map). Operations waiting for the executor then fail
     * with {@code IllegalStateException("map is closed")}.
     */
    @Override
    public void close() {
        map.close();
    }

    @Override
    public String toString() {
        return "Async" + map;
    }

    // =========================================================================================================
    // The two ways an operation runs
    // =========================================================================================================

    /** Runs {@code op} now if it need not wait, else on the executor. */
    @SuppressWarnings("unchecked")
    private <A, B, R> CompletableFuture<R> call(Call<ShardedHashMap<K, V>, A, B, R> op, A a, B b) {
        final Object result;
        try {
            result = NonBlockingCall.tryNow(engine, op, map, a, b);
        } catch (RuntimeException | Error e) {
            return CompletableFuture.failedFuture(e);
        }
        if (result != NonBlockingCall.WOULD_BLOCK) {
            return CompletableFuture.completedFuture((R) result);
        }
        return onExecutor(m -> op.apply(m, a, b));
    }

    /** Runs {@code op} on the executor, unless the future is cancelled first. */
    private <R> CompletableFuture<R> onExecutor(Function<ShardedHashMap<K, V>, R> op) {
        final CompletableFuture<R> future = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                if (future.isDone()) {
                    return;   // cancelled before it started: it never runs
                }
                try {
                    future.complete(op.apply(map));
                } catch (RuntimeException | Error e) {
                    future.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException e) {
            future.completeExceptionally(e);
        }
        return future;
    }

    /** One step of a batch: the element at {@code index}, applied to the map. */
    @FunctionalInterface
    private interface Step<M, T> {
        Object apply(M map, T element, int index);
    }

    /**
     * Applies {@code step} to the elements in order, inline while no lock has to be waited for, the rest on the
     * executor from the first element that would wait (that element changed nothing).
     */
    private <T, R> CompletableFuture<R> batch(List<T> elements, Step<ShardedHashMap<K, V>, T> step,
                                              java.util.function.Supplier<R> result,
                                              BiFunction<RuntimeException, Integer, RuntimeException> failedAt) {
        final Call<ShardedHashMap<K, V>, T, Integer, Object> one = (m, element, index) -> step.apply(m, element, index);
        int i = 0;
        try {
            for (; i < elements.size(); i++) {
                if (NonBlockingCall.tryNow(engine, one, map, elements.get(i), i) == NonBlockingCall.WOULD_BLOCK) {
                    break;
                }
            }
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(failedAt == null ? e : failedAt.apply(e, i));
        } catch (Error e) {
            return CompletableFuture.failedFuture(e);
        }
        if (i == elements.size()) {
            return CompletableFuture.completedFuture(result.get());
        }
        final int from = i;
        return onExecutor(m -> {
            for (int k = from; k < elements.size(); k++) {
                try {
                    step.apply(m, elements.get(k), k);
                } catch (RuntimeException e) {
                    throw failedAt == null ? e : failedAt.apply(e, k);
                }
            }
            return result.get();
        });
    }

    /** The keys copied, after refusing a null key as the synchronous batches do. */
    private static <T> List<T> copyKeys(String operation, Collection<? extends T> keys) {
        BulkOperations.requireNoNullKey(operation, keys);
        return new ArrayList<>(keys);
    }

    /** The default executor's holder: created on first use. */
    private static final class DefaultExecutor {
        static final Executor INSTANCE = create();

        private static Executor create() {
            try {
                return (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
            } catch (ReflectiveOperationException | RuntimeException beforeJdk21) {
                final AtomicInteger n = new AtomicInteger();
                return new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                    r -> {
                        final Thread t = new Thread(r, "starshard-async-" + n.incrementAndGet());
                        t.setDaemon(true);
                        return t;
                    });
            }
        }
    }
}
