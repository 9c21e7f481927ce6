package io.starshard.internal;

import io.starshard.MemoryStats;
import io.starshard.RebalanceOptions;
import io.starshard.RebalanceReport;
import io.starshard.RebalanceStatus;
import io.starshard.ShardStats;
import io.starshard.SnapshotMode;
import io.starshard.codec.Codec;
import io.starshard.internal.ThreadContext.Frame;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentSpec;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The engine behind {@code ShardedHashMap}: every operation of the map, built from one write core, one read
 * protocol and one encoder. Internal: the public API and its documentation are on the map itself.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Writes</b> encode the key (and value) into the thread's {@link Frame} before any lock, then go through
 *       {@link WriteCore}, the one write path.</li>
 *   <li><b>Reads</b> go through {@link ReadProtocol}: optimistic inside an epoch section, the read lock as
 *       fallback, decoded from a private copy after validation.</li>
 *   <li><b>The {@code long} methods</b> of a {@code Long -> Long} map use the same three write methods with the
 *       key and value bytes put into the frame directly: no boxing, and the same limits and counts.</li>
 *   <li><b>User code</b> (compute functions, retain predicates) runs under a shard's write lock, marked in the
 *       thread's context so that a call back into this map fails instead of deadlocking.</li>
 * </ul>
 *
 * @param <K> key type
 * @param <V> value type
 */
public final class MapEngine<K, V> {
    private final EntryCodec<K, V> codec;
    private final ShardTable shards;
    private final Snapshots<K, V> snapshots;
    private final ReadProtocol reads;
    private final WriteCore core;
    private final Rebalancer rebalancer;
    private final BulkOperations<K, V> bulk;
    /** The persisted map's store, or null. Set once before the map is published (see {@link #attachPersistence}). */
    private PersistedStore persistence;

    private MapEngine(EntryCodec<K, V> codec, ShardTable shards, SnapshotMode snapshotMode, int retainVersions) {
        this.codec = codec;
        this.shards = shards;
        this.snapshots = new Snapshots<>(shards, codec, snapshotMode, retainVersions);
        this.reads = new ReadProtocol(shards);
        this.core = new WriteCore(shards, codec);
        this.rebalancer = new Rebalancer(shards);
        this.bulk = new BulkOperations<>(this, shards, codec, core);
    }

    /**
     * Creates an engine; allocates no off-heap memory (shards are created by their first write).
     *
     * @param keyType         key class (a wrapper, never a primitive class)
     * @param valueType       value class
     * @param keyCodec        key codec
     * @param valueCodec      value codec
     * @param hasher          the key hasher (its seed is the map's)
     * @param shardCount      shards, already validated
     * @param maxEntryBytes   limit on key plus value bytes, already validated
     * @param memoryBudget    off-heap budget in bytes, or {@link OffHeapMemory#UNLIMITED}
     * @param expectedEntries entries to presize for, 0 for none
     * @param maxPauseNanos   the longest one step of memory maintenance may hold a shard's lock
     * @param snapshotMode    how snapshots copy the map
     * @param retainVersions  versioned snapshots to retain, 0 for none
     * @param <K>             key type
     * @param <V>             value type
     * @return a new engine
     * @throws IllegalStateException if the JVM does not grant the off-heap access the map needs
     */
    public static <K, V> MapEngine<K, V> create(Class<K> keyType, Class<V> valueType, Codec<K> keyCodec,
                                                Codec<V> valueCodec, KeyHasher hasher, int shardCount,
                                                int maxEntryBytes, long memoryBudget, long expectedEntries,
                                                long maxPauseNanos, SnapshotMode snapshotMode,
                                                int retainVersions) {
        OffHeapMemory.requireMemoryAccess();
        final int keyWidth = keyCodec.fixedLength();
        final int valueWidth = valueCodec.fixedLength();
        final SegmentSpec base = (SegmentSpec.fitsInline(keyWidth, valueWidth)
            ? SegmentSpec.inline(keyWidth, valueWidth, hasher)
            : SegmentSpec.indirect(maxEntryBytes)).withMaxPauseNanos(maxPauseNanos);
        final EntryCodec<K, V> codec = new EntryCodec<>(keyType, valueType, keyCodec, valueCodec, hasher,
            maxEntryBytes, base.isInline());
        return new MapEngine<>(codec, new ShardTable(shardCount, base, expectedEntries,
            new OffHeapMemory(memoryBudget)), snapshotMode, retainVersions);
    }


    // =========================================================================================================
    // Frames: encode before locking
    // =========================================================================================================

    /**
     * Pushes a frame holding {@code key}, encoded for an operation that only acts on a present key.
     *
     * @return the frame (pop it in {@code finally}), or null if the key cannot be present (wrong type, too long);
     *         then nothing was pushed and the map was checked to be open
     */
    private Frame pushLookupKey(ThreadContext ctx, Object key) {
        final K k = codec.keyOrNull(key);
        if (k != null) {
            final Frame f = ctx.push();
            try {
                if (codec.encodeLookupKey(k, f)) {
                    return f;
                }
            } catch (RuntimeException | Error e) {
                ctx.pop();
                throw e;
            }
            ctx.pop();
        }
        shards.checkOpen();
        return null;
    }

    /** Pushes a frame holding {@code key} encoded for storing (and {@code value}, if not null). */
    private Frame pushEntry(ThreadContext ctx, K key, V value) {
        final Frame f = ctx.push();
        try {
            codec.encodeKey(key, f);
            if (value != null) {
                codec.encodeValue(value, f);
            }
            return f;
        } catch (RuntimeException | Error e) {
            ctx.pop();
            throw e;
        }
    }

    // =========================================================================================================
    // Object reads
    // =========================================================================================================

    /**
     * The value of {@code key} decoded into {@code reuse} where the codec supports it, or null.
     *
     * @param key   a non-null key of any type
     * @param reuse an instance to decode into, or null
     * @return the value or null
     */
    public V optimisticGet(Object key, V reuse) {
        final ThreadContext ctx = shards.context();
        final Frame f = pushLookupKey(ctx, key);
        if (f == null) {
            return null;
        }
        try {
            final int length = (int) reads.read(ctx, ReadProtocol.VALUE, f, f.hash, Segment.NOT_FOUND);
            return length < 0 ? null : codec.decodeRead(f, length, reuse);
        } finally {
            ctx.pop();
        }
    }

    /**
     * Whether {@code key} is present, without copying its value.
     *
     * @param key a non-null key of any type
     * @return true if present
     */
    public boolean optimisticContainsKey(Object key) {
        final ThreadContext ctx = shards.context();
        final Frame f = pushLookupKey(ctx, key);
        if (f == null) {
            return false;
        }
        try {
            return reads.read(ctx, ReadProtocol.PRESENCE, f, f.hash, 0) != 0;
        } finally {
            ctx.pop();
        }
    }

    // =========================================================================================================
    // Object writes
    // =========================================================================================================

    /**
     * Puts an entry.
     *
     * @param key          the key
     * @param value        the value
     * @param onlyIfAbsent leave a present key's value as it is
     * @return the previous (or, with {@code onlyIfAbsent}, the existing) value, or null
     */
    public V put(K key, V value, boolean onlyIfAbsent) {
        final ThreadContext ctx = shards.context();
        final Frame f = pushEntry(ctx, key, value);
        try {
            final int previous = core.putVal(ctx, f, onlyIfAbsent, true);
            return previous < 0 ? null : codec.decodeRead(f, previous);
        } finally {
            ctx.pop();
        }
    }

    /**
     * Puts an entry without decoding the previous value.
     *
     * @param key   the key
     * @param value the value
     * @return true if the key was new
     */
    public boolean set(K key, V value) {
        final ThreadContext ctx = shards.context();
        final Frame f = pushEntry(ctx, key, value);
        try {
            return core.putVal(ctx, f, false, false) == WriteCore.ABSENT;
        } finally {
            ctx.pop();
        }
    }

    /** A {@link #replaceOrRemove} result: the write was applied and the previous value not decoded. */
    private static final Object APPLIED = new Object();

    /**
     * Replaces (or, if {@code value} is null, removes) a present key, if {@code expected} is null or equals its
     * current value.
     *
     * @return null if nothing changed; else the decoded previous value if {@code decodePrevious}, or {@link #APPLIED}
     */
    private Object replaceOrRemove(Object key, V value, Object expected, boolean decodePrevious) {
        final ThreadContext ctx = shards.context();
        final Frame f = pushLookupKey(ctx, key);
        if (f == null) {
            return null;
        }
        try {
            if (value != null) {
                codec.encodeValue(value, f);
            }
            final int previous = core.replaceNode(ctx, f, value == null, expected, decodePrevious);
            if (previous == WriteCore.ABSENT || previous == WriteCore.MISMATCH) {
                return null;
            }
            return decodePrevious ? codec.decodeRead(f, previous) : APPLIED;
        } finally {
            ctx.pop();
        }
    }

    /**
     * Replaces the value of a present key.
     *
     * @param key   the key
     * @param value the new value
     * @return the previous value, or null if absent
     */
    @SuppressWarnings("unchecked")
    public V replace(K key, V value) {
        return (V) replaceOrRemove(key, value, null, true);
    }

    /**
     * Replaces the value of a present key if it equals {@code expected} (arrays by content).
     *
     * @param key      the key
     * @param expected the current value expected
     * @param value    the new value
     * @return true if replaced
     */
    public boolean replace(K key, Object expected, V value) {
        return replaceOrRemove(key, value, expected, false) != null;
    }

    /**
     * Removes a present key.
     *
     * @param key a non-null key of any type
     * @return the removed value, or null if absent
     */
    @SuppressWarnings("unchecked")
    public V remove(Object key) {
        return (V) replaceOrRemove(key, null, null, true);
    }

    /**
     * Removes a present key if {@code expected} is null or equals its value (arrays by content).
     *
     * @param key      a non-null key of any type
     * @param expected the value expected, or null for any
     * @return true if removed
     */
    public boolean remove(Object key, Object expected) {
        return replaceOrRemove(key, null, expected, false) != null;
    }

    /**
     * Whether a value could be stored in this map (is of its value type).
     *
     * @param value a value
     * @return true if of the value type
     */
    public boolean isValueType(Object value) {
        return codec.isValueType(value);
    }

    // =========================================================================================================
    // compute, computeIfAbsent, computeIfPresent, merge
    // =========================================================================================================

    /** The remapping of the object methods: decodes, runs the user's function under the lock, encodes. */
    private final class Compute implements WriteCore.Remapping {
        private final ThreadContext ctx;
        private final K key;
        private final Function<? super K, ? extends V> ifAbsent;
        private final BiFunction<? super K, ? super V, ? extends V> remapping;
        private final V mergeValue;
        private final BiFunction<? super V, ? super V, ? extends V> merging;
        private final boolean onlyIfPresent;
        private V result;

        Compute(ThreadContext ctx, K key, Function<? super K, ? extends V> ifAbsent,
                BiFunction<? super K, ? super V, ? extends V> remapping, boolean onlyIfPresent, V mergeValue,
                BiFunction<? super V, ? super V, ? extends V> merging) {
            this.ctx = ctx;
            this.key = key;
            this.ifAbsent = ifAbsent;
            this.remapping = remapping;
            this.onlyIfPresent = onlyIfPresent;
            this.mergeValue = mergeValue;
            this.merging = merging;
        }

        @Override
        public int remap(Frame f, int current) {
            final V old = current >= 0 ? codec.decodeRead(f, current) : null;
            if (old == null && onlyIfPresent) {
                return WriteCore.KEEP;
            }
            if (ifAbsent != null && old != null) {
                result = old;
                return WriteCore.KEEP;
            }
            ctx.enterLocked(shards);
            final V updated;
            try {
                if (ifAbsent != null) {
                    updated = ifAbsent.apply(key);
                } else if (merging != null) {
                    updated = old == null ? mergeValue : merging.apply(old, mergeValue);
                } else {
                    updated = remapping.apply(key, old);
                }
            } finally {
                ctx.exitLocked();
            }
            result = updated;
            if (updated == null) {
                return WriteCore.REMOVE;
            }
            codec.encodeValue(updated, f);
            return f.valueLength;
        }
    }

    private V compute(K key, Function<? super K, ? extends V> ifAbsent,
                      BiFunction<? super K, ? super V, ? extends V> remapping, boolean onlyIfPresent, V mergeValue,
                      BiFunction<? super V, ? super V, ? extends V> merging) {
        final ThreadContext ctx = shards.context();
        final Frame f = onlyIfPresent ? pushLookupKey(ctx, key) : pushEntry(ctx, key, null);
        if (f == null) {
            return null;
        }
        try {
            if (ifAbsent != null) {   // a present key is answered without the lock
                final int existing = (int) reads.read(ctx, ReadProtocol.VALUE, f, f.hash, Segment.NOT_FOUND);
                if (existing >= 0) {
                    return codec.decodeRead(f, existing);
                }
            }
            final Compute c = new Compute(ctx, key, ifAbsent, remapping, onlyIfPresent, mergeValue, merging);
            core.remap(ctx, f, c, !onlyIfPresent);
            return c.result;
        } finally {
            ctx.pop();
        }
    }

    /**
     * {@link java.util.concurrent.ConcurrentMap#computeIfAbsent}.
     *
     * @param key      the key
     * @param function computes the value of an absent key
     * @return the existing or inserted value, or null
     */
    public V computeIfAbsent(K key, Function<? super K, ? extends V> function) {
        return compute(key, function, null, false, null, null);
    }

    /**
     * {@link java.util.concurrent.ConcurrentMap#compute} and {@code computeIfPresent}.
     *
     * @param key           the key
     * @param function      computes the new value from the current one (null if absent); null removes
     * @param onlyIfPresent leave an absent key absent without calling the function
     * @return the new value, or null
     */
    public V compute(K key, BiFunction<? super K, ? super V, ? extends V> function, boolean onlyIfPresent) {
        return compute(key, null, function, onlyIfPresent, null, null);
    }

    /**
     * {@link java.util.concurrent.ConcurrentMap#merge}.
     *
     * @param key      the key
     * @param value    inserted if absent, else combined
     * @param function combines the current value with {@code value}; null removes
     * @return the new value, or null
     */
    public V merge(K key, V value, BiFunction<? super V, ? super V, ? extends V> function) {
        return compute(key, null, null, false, value, function);
    }

    // =========================================================================================================
    // Primitive long -> long access
    // =========================================================================================================

    /** Adds the {@code long} in {@code f.value} to the current value (absent counts as 0). */
    private static final WriteCore.Remapping ADD_LONG = (f, current) -> {
        final long sum = (current >= 0 ? EntryCodec.readLong(f) : 0L) + EntryCodec.valueLong(f);
        f.value.putLong(0, sum, java.nio.ByteOrder.LITTLE_ENDIAN);
        return f.valueLength;
    };

    /**
     * The value of a {@code long} key, without boxing or allocation.
     *
     * @param key          the key
     * @param missingValue returned when absent
     * @return the value or {@code missingValue}
     */
    public long optimisticGetLong(long key, long missingValue) {
        codec.checkLongToLong();
        return reads.read(shards.context(), ReadProtocol.LONG_VALUE, null, codec.hashLong(key), missingValue);
    }

    /**
     * Whether a {@code long} key is present.
     *
     * @param key the key
     * @return true if present
     */
    public boolean optimisticContainsLong(long key) {
        codec.checkLongToLong();
        return reads.read(shards.context(), ReadProtocol.PRESENCE, null, codec.hashLong(key), 0) != 0;
    }

    /**
     * {@code values[i] = optimisticGetLong(keys[i], missingValue)} for {@code i} in {@code [offset, end)}.
     *
     * @param keys         the keys
     * @param values       the values out
     * @param offset       first index
     * @param end          end index, exclusive (already checked against both arrays)
     * @param missingValue written for absent keys
     */
    public void optimisticGetLongs(long[] keys, long[] values, int offset, int end, long missingValue) {
        codec.checkLongToLong();
        reads.readLongs(shards.openContext(), codec, keys, values, offset, end, missingValue);
    }

    /**
     * Puts a {@code long} entry.
     *
     * @param key          the key
     * @param value        the value
     * @param missingValue returned when the key was absent
     * @return the previous value, or {@code missingValue}
     */
    public long putLong(long key, long value, long missingValue) {
        final ThreadContext ctx = shards.context();
        final Frame f = ctx.push();
        try {
            codec.encodeLongEntry(key, value, f);
            return core.putVal(ctx, f, false, true) == WriteCore.ABSENT ? missingValue : EntryCodec.readLong(f);
        } finally {
            ctx.pop();
        }
    }

    /**
     * Adds {@code delta} to a {@code long} key's value (absent counts as 0).
     *
     * @param key   the key
     * @param delta the amount
     * @return the new value
     */
    public long addAndGetLong(long key, long delta) {
        final ThreadContext ctx = shards.context();
        final Frame f = ctx.push();
        try {
            codec.encodeLongEntry(key, delta, f);
            core.remap(ctx, f, ADD_LONG, true);
            return EntryCodec.valueLong(f);
        } finally {
            ctx.pop();
        }
    }

    /**
     * Removes a {@code long} key.
     *
     * @param key          the key
     * @param missingValue returned when absent
     * @return the removed value, or {@code missingValue}
     */
    public long removeLong(long key, long missingValue) {
        final ThreadContext ctx = shards.context();
        final Frame f = ctx.push();
        try {
            codec.encodeLongKey(key, f);
            return core.replaceNode(ctx, f, true, null, true) >= 0 ? EntryCodec.readLong(f) : missingValue;
        } finally {
            ctx.pop();
        }
    }

    // =========================================================================================================
    // Bulk and range operations: their own class, reached from here
    // =========================================================================================================

    /**
     * The map's bulk and range operations ({@link BulkOperations}): batches, retain, clear.
     *
     * @return the bulk operations
     */
    public BulkOperations<K, V> bulk() {
        return bulk;
    }

    // =========================================================================================================
    // Iteration support: raw records per shard range, decoded by the caller outside every lock
    // =========================================================================================================

    /**
     * Copies, as exported records (see {@code RecordDescriptor}) into {@code out} from offset 0, every entry
     * whose routing bits lie between {@code boundary} and the end of the shard range that contains it, under the
     * locks of that range's shards. Iterators step through the map this way, by hash position, so that a change
     * of shard count between two steps neither repeats nor skips a key.
     *
     * @param boundary where to start, a routing value in {@code [0, 2^32)}
     * @param limit    where to stop at the latest, a routing value in {@code (boundary, 2^32]}
     * @param out      destination, expanded as needed
     * @return the next boundary (at most {@code limit}) {@code << 31 | bytes written}
     */
    public long exportFrom(long boundary, long limit, ExpandableArrayBuffer out) {
        shards.openContext();
        return shards.exportFrom(boundary, limit, out);
    }

    /**
     * Decodes a key.
     *
     * @param buffer source
     * @param offset start
     * @param length bytes
     * @return the key
     */
    public K decodeKey(DirectBuffer buffer, int offset, int length) {
        return codec.decodeKey(buffer, offset, length);
    }

    /**
     * Decodes a value.
     *
     * @param buffer source
     * @param offset start
     * @param length bytes
     * @return the value
     */
    public V decodeValue(DirectBuffer buffer, int offset, int length) {
        return codec.decodeValue(buffer, offset, length);
    }

    // =========================================================================================================
    // Size, stats, configuration, lifecycle
    // =========================================================================================================

    /**
     * Live entries; O(1).
     *
     * @return the count, exact when no write is in flight
     */
    public long size() {
        shards.openContext();
        return shards.size();
    }

    /**
     * Shards keys are routed to.
     *
     * @return the shard count
     */
    public int shardCount() {
        shards.openContext();
        return shards.shardCount();
    }

    // =========================================================================================================
    // Rebalance
    // =========================================================================================================

    /**
     * Changes the shard count in the calling thread and reports.
     *
     * @param target the new count, already validated
     * @return the report
     */
    public RebalanceReport rebalanceTo(int target) {
        return rebalancer.rebalanceTo(shards.openContext(), target);
    }

    /**
     * Starts moving to {@code target} shards.
     *
     * @param target  the new count, already validated
     * @param options how to move
     * @return the status right after the start
     */
    public RebalanceStatus startRebalance(int target, RebalanceOptions options) {
        shards.openContext();
        rebalancer.start(target, options);
        return rebalancer.status();
    }

    /**
     * Moves up to {@code budget} entries of the running rebalance.
     *
     * @param budget entries, positive
     * @return the status afterwards
     */
    public RebalanceStatus advanceRebalance(long budget) {
        rebalancer.advance(shards.openContext(), budget);
        return rebalancer.status();
    }

    /**
     * Where the running (or last) rebalance stands.
     *
     * @return the status
     */
    public RebalanceStatus rebalanceStatus() {
        shards.openContext();
        return rebalancer.status();
    }

    /**
     * Waits until no rebalance runs.
     *
     * @param timeoutNanos how long at most
     * @return true if none runs
     */
    public boolean awaitRebalance(long timeoutNanos) {
        shards.openContext();
        return rebalancer.await(timeoutNanos);
    }

    /**
     * Entries per shard, in shard order; 0 for shards not created yet.
     *
     * @return a new array
     */
    public long[] perShardLoad() {
        shards.context();
        return shards.perShardLoad();
    }

    /**
     * Shards whose storage exists.
     *
     * @return the count
     */
    public int initializedShards() {
        shards.openContext();
        return shards.initializedShards();
    }

    /**
     * The spread of entries over shards.
     *
     * @return the stats
     */
    public ShardStats shardStats() {
        shards.context();
        return shards.shardStats();
    }

    /**
     * Starts the {@link CompactionAgent} on a daemon thread; it stops when the map is closed.
     *
     * @param interval how long it sleeps after a round that found no work
     */
    public void startBackgroundCompaction(java.time.Duration interval) {
        BackgroundAgents.start(new CompactionAgent(shards),
            new org.agrona.concurrent.SleepingIdleStrategy(interval.toNanos()));
    }

    /**
     * Compacts every shard now.
     *
     * @return bytes given back
     */
    public long compact() {
        shards.context();
        return shards.compact();
    }

    /**
     * Off-heap memory per shard of the current array.
     *
     * @return one row per shard, in shard order
     */
    public java.util.List<io.starshard.ShardMemoryStats> shardMemoryStats() {
        shards.context();
        return shards.shardMemoryStats();
    }

    /**
     * Off-heap memory; also answers after close (then everything has been freed).
     *
     * @return the stats
     */
    public MemoryStats memoryStats() {
        shards.context();
        return shards.memoryStats();
    }

    /**
     * Checks the map's invariants: each segment's own, every entry in the shard its hash routes to, and the entry
     * count equal to the segments' sizes. For tests; the count check needs a moment without writers.
     *
     * @throws IllegalStateException on the first violation
     */
    public void checkInvariants() {
        shards.context();
        shards.checkInvariants();
    }

    /**
     * Registers {@code owner} (the public map) so that if it becomes unreachable without {@link #close()}, its
     * off-heap memory is freed and a warning names where it was created.
     *
     * @param owner the object whose reachability is the map's
     */
    public void registerLeakCleaner(Object owner) {
        shards.registerLeakCleaner(owner);
    }

    /**
     * The limit on key plus value bytes.
     *
     * @return bytes
     */
    public int maxEntryBytes() {
        shards.openContext();
        return codec.maxEntryBytes();
    }

    /**
     * The key hash seed.
     *
     * @return the seed
     */
    public long hashSeed() {
        shards.openContext();
        return codec.hasher().seed();
    }

    /**
     * Throws the map's "closed" exception if it is closed, and refuses re-entry from a compute function.
     */
    public void checkUsable() {
        shards.openContext();
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return shards.isClosed();
    }

    /** Frees all off-heap memory; idempotent. Open snapshots keep their copies (and get one if they had none). */
    public void close() {
        final PersistedStore store = persistence;
        if (store != null) {
            store.beforeClose();   // the last checkpoint, while the map can still be read
        }
        snapshots.close();
        shards.close("map is closed");
        if (store != null) {
            store.afterClose();    // no write is in progress any more: the journal and its lock go
        }
    }

    // =========================================================================================================
    // Persistence: the journal of a persisted map (its replay is JournalReader's)
    // =========================================================================================================

    /**
     * Makes this a persisted map: every later write is journaled, and closing checkpoints and closes the store.
     * Called once, after the replay and before the map is handed to its user.
     */
    void attachPersistence(PersistedStore store, Journal journal) {
        core.attachJournal(journal);
        this.persistence = store;
    }

    /**
     * The persisted map's store.
     *
     * @return the store
     * @throws IllegalStateException if the map is closed or not persisted
     */
    public PersistedStore persistedStore() {
        shards.openContext();
        if (persistence == null) {
            throw new IllegalStateException("this map is not persisted: build it with persistedTo(directory)");
        }
        return persistence;
    }

    /** The write core, for the journal's replay. */
    WriteCore writeCore() {
        return core;
    }

    // =========================================================================================================
    // Snapshots: their own class, reached from here
    // =========================================================================================================

    /**
     * The map's snapshots ({@link Snapshots}): taking them, the retained versions, their costs.
     *
     * @return the snapshot store
     */
    public Snapshots<K, V> snapshots() {
        return snapshots;
    }

    /**
     * Returns the key class.
     *
     * @return the key class
     */
    public Class<K> keyType() {
        return codec.keyType();
    }

    /**
     * Returns the value class.
     *
     * @return the value class
     */
    public Class<V> valueType() {
        return codec.valueType();
    }

    /** The codecs, for the classes of this package that read and write the map's bytes. */
    EntryCodec<K, V> codec() {
        return codec;
    }

    /** The shard table, for the tests and the file reader and writer of this package. */
    ShardTable shardTable() {
        return shards;
    }

    /**
     * The off-heap accountant of this map, for tests that watch memory come back.
     *
     * @return the accountant
     */
    public OffHeapMemory memoryAccountant() {
        return shards.memory();
    }

    @Override
    public String toString() {
        return "MapEngine{" + codec.describeTypes() + ", " + shards.shardCount() + " shards}";
    }
}
