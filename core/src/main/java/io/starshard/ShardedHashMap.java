package io.starshard;

import io.starshard.codec.Codec;
import io.starshard.internal.MapEngine;
import io.starshard.internal.ValueEquality;
import io.starshard.offheap.EntryTooLargeException;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentMap;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.BiPredicate;
import java.util.function.Function;

/**
 * A sharded, concurrent map that keeps every key and value off the Java heap.
 *
 * <p>Why: a cache of millions of entries on the heap costs GC time in proportion to its size. Here entries are
 * bytes in off-heap hash tables (one per shard), encoded by {@link Codec}s; the heap holds only the shard
 * objects. The map implements {@link ConcurrentMap} completely, adds batch and whole-map operations
 * ({@link #batchInsert}, {@link #batchGet}, {@link #batchRemove}, {@link #retain}, {@link #shardStats}), and
 * allocation-free primitive methods for {@code Long -> Long} maps ({@link #getLong}, {@link #putLong},
 * {@link #getLongs}).
 *
 * <h2>Semantics</h2>
 * <ul>
 *   <li>Keys are compared by their encoded bytes and values by {@code equals} of the decoded value; codecs must
 *       give equal objects identical bytes (the built-ins do). {@code get} returns a fresh decoded copy: changing
 *       it does not change the map.</li>
 *   <li>Null keys and values are rejected with {@link NullPointerException}, as {@code ConcurrentHashMap} does.</li>
 *   <li><b>Array values</b> (e.g. {@code byte[]}): where the map compares a caller's value with a stored one
 *       ({@code containsValue}, {@code remove(k, v)}, {@code replace(k, old, new)}, {@code values().contains},
 *       {@code entrySet().contains/remove}) arrays compare by content, since every stored value is a fresh
 *       decoded copy and identity could never match. {@link #equals} keeps the {@link Map#equals} contract
 *       ({@code value.equals}, identity for arrays), so a non-empty map with array values equals only itself,
 *       symmetrically with {@code HashMap}; {@link #hashCode} hashes arrays by content so that it is stable.</li>
 *   <li>A key too long to be stored cannot be present: lookups and removals of it answer absent (null, false);
 *       writes of it throw {@link EntryTooLargeException}, as does any write, object or primitive, of an entry
 *       larger than {@link ShardedHashMapBuilder#maxEntryBytes}.</li>
 *   <li>Every single-key operation is atomic (linearizable). {@code compute}-style functions run under the key's
 *       shard lock, at most once per call, and must not use this map: every method of the map and of its views
 *       and iterators then throws {@link IllegalStateException} instead of deadlocking.</li>
 *   <li>{@link #size()} is exact whenever no write is in flight. Iteration, views, streams, {@code equals},
 *       {@code hashCode} and stats are <em>per-shard consistent</em>: each shard is copied under its read lock,
 *       one shard at a time; they never throw because of concurrent writes.</li>
 *   <li>{@link #close()} frees all off-heap memory. Every later call, and every call racing with it, throws
 *       {@code IllegalStateException("map is closed")}, except {@link #close()}, {@link #isClosed()},
 *       {@link #memoryStats()} and {@link #snapshotStats()} (to check that every byte came back) and
 *       {@link #toString()}. Open {@link MapSnapshot}s stay readable.</li>
 *   <li>A map that becomes unreachable without {@link #close()} is closed by a cleaner, which logs a warning
 *       naming where the map was created; close maps explicitly to free memory promptly.</li>
 * </ul>
 *
 * <p>How it works: {@code docs/architecture.md} in the source repository. The operations are implemented by an
 * internal engine; this class holds the public contract.
 *
 * @param <K> key type
 * @param <V> value type
 */
public final class ShardedHashMap<K, V> implements ConcurrentMap<K, V>, AutoCloseable, java.io.Serializable {
    /** Shard count used when 0 is requested. */
    public static final int DEFAULT_SHARDS = 64;
    /** Largest shard count. */
    public static final int MAX_SHARDS = 262_144;
    /** Default limit on the encoded key plus value of one entry: 1 MiB. */
    public static final int DEFAULT_MAX_ENTRY_BYTES = 1 << 20;

    private static final System.Logger LOG = System.getLogger(ShardedHashMap.class.getName());

    private static final long serialVersionUID = 1L;

    private final transient MapEngine<K, V> engine;
    private final transient int maxShards;
    private transient Set<K> keySetView;
    private transient Collection<V> valuesView;
    private transient Set<Map.Entry<K, V>> entrySetView;

    ShardedHashMap(Class<K> keyType, Class<V> valueType, Codec<K> keyCodec, Codec<V> valueCodec, KeyHasher hasher,
                   int shards, int maxShards, int maxEntryBytes, long memoryBudget, long expectedEntries,
                   long maxPauseNanos, SnapshotMode snapshotMode, int retainVersions) {
        this.engine = MapEngine.create(keyType, valueType, keyCodec, valueCodec, hasher, shards, maxEntryBytes,
            memoryBudget, expectedEntries, maxPauseNanos, snapshotMode, retainVersions);
        this.maxShards = maxShards;
        engine.registerLeakCleaner(this);
    }

    /** Starts the background compaction thread the builder asked for. */
    void startBackgroundCompaction(java.time.Duration interval) {
        engine.startBackgroundCompaction(interval);
    }

    // =========================================================================================================
    // Construction
    // =========================================================================================================

    /**
     * Starts a builder. Keys and values of {@code Long}, {@code Integer}, {@code Double}, {@code String} and
     * {@code byte[]} get allocation-free built-in codecs; any other type gets a Kryo codec. A generic value type is
     * given by its raw class and named once as a type argument:
     * {@code ShardedHashMap.<String, List<String>>builder(String.class, List.class).shards(8).build()}.
     *
     * @param keyType   key class (a primitive class means its wrapper)
     * @param valueType value class
     * @param <K>       key type
     * @param <V>       value type
     * @return a builder with the defaults: 64 shards, 1 MiB maximum entry, no budget, random seed
     */
    public static <K, V> ShardedHashMapBuilder<K, V> builder(Class<? super K> keyType, Class<? super V> valueType) {
        return new ShardedHashMapBuilder<>(keyType, valueType);
    }

    /**
     * A map with {@value #DEFAULT_SHARDS} shards and the default settings. A generic value type is given by its
     * raw class: {@code ShardedHashMap<String, List<String>> m = ShardedHashMap.create(String.class, List.class)}.
     *
     * @param keyType   key class
     * @param valueType value class
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     */
    public static <K, V> ShardedHashMap<K, V> create(Class<? super K> keyType, Class<? super V> valueType) {
        return ShardedHashMap.<K, V>builder(keyType, valueType).build();
    }

    /**
     * A map whose {@link #snapshot()} works in {@code mode}; otherwise the defaults.
     *
     * @param keyType   key class
     * @param valueType value class
     * @param mode      the snapshot mode
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     */
    public static <K, V> ShardedHashMap<K, V> create(Class<? super K> keyType, Class<? super V> valueType,
                                                     SnapshotMode mode) {
        return ShardedHashMap.<K, V>builder(keyType, valueType).snapshotMode(mode).build();
    }

    /**
     * {@link #withShards(Class, Class, int)} with a snapshot mode.
     *
     * @param keyType   key class
     * @param valueType value class
     * @param shards    requested shard count (clamped)
     * @param mode      the snapshot mode
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     * @throws ShardCountException if {@code shards} is negative
     */
    public static <K, V> ShardedHashMap<K, V> withShards(Class<? super K> keyType, Class<? super V> valueType,
                                                         int shards, SnapshotMode mode) {
        final int clamped = Math.min(requestedShards(shards, MAX_SHARDS), MAX_SHARDS);
        return ShardedHashMap.<K, V>builder(keyType, valueType).shards(clamped).snapshotMode(mode).build();
    }

    /**
     * A map with a clamped shard count: 0 becomes {@value #DEFAULT_SHARDS}, counts above {@value #MAX_SHARDS}
     * become {@value #MAX_SHARDS} (logged at DEBUG).
     *
     * @param keyType   key class
     * @param valueType value class
     * @param shards    requested shard count
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     * @throws ShardCountException if {@code shards} is negative
     */
    public static <K, V> ShardedHashMap<K, V> withShards(Class<? super K> keyType, Class<? super V> valueType,
                                                         int shards) {
        return withShardsAndCap(keyType, valueType, shards, MAX_SHARDS);
    }

    /**
     * A map with a clamped shard count and a cap remembered for the map's lifetime: the cap is {@code max(cap, 1)}
     * (at most {@value #MAX_SHARDS}); 0 shards means {@value #DEFAULT_SHARDS}; a count above the cap becomes the
     * cap (logged at DEBUG).
     *
     * @param keyType   key class
     * @param valueType value class
     * @param shards    requested shard count
     * @param cap       largest shard count this map may ever have
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     * @throws ShardCountException if {@code shards} is negative
     */
    public static <K, V> ShardedHashMap<K, V> withShardsAndCap(Class<? super K> keyType, Class<? super V> valueType,
                                                               int shards, int cap) {
        final int effectiveCap = effectiveCap(cap);
        final int requested = requestedShards(shards, effectiveCap);
        final int clamped = Math.min(requested, effectiveCap);
        if (clamped != requested) {
            LOG.log(System.Logger.Level.DEBUG, "shard count {0} clamped to the cap {1}", requested, effectiveCap);
        }
        return ShardedHashMap.<K, V>builder(keyType, valueType).maxShards(effectiveCap).shards(clamped).build();
    }

    /**
     * A map with a strictly checked shard count: 0 means {@value #DEFAULT_SHARDS}; anything above
     * {@value #MAX_SHARDS} is refused.
     *
     * @param keyType   key class
     * @param valueType value class
     * @param shards    requested shard count
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     * @throws ShardCountException if the count is negative or above the maximum
     */
    public static <K, V> ShardedHashMap<K, V> tryWithShards(Class<? super K> keyType, Class<? super V> valueType,
                                                            int shards) {
        return tryWithShardsAndCap(keyType, valueType, shards, MAX_SHARDS);
    }

    /**
     * A map with a strictly checked shard count under a cap of {@code max(cap, 1)} (at most
     * {@value #MAX_SHARDS}); 0 means {@value #DEFAULT_SHARDS}, which must itself fit the cap.
     *
     * @param keyType   key class
     * @param valueType value class
     * @param shards    requested shard count
     * @param cap       largest shard count this map may ever have
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     * @throws ShardCountException if the count is negative or above the cap
     */
    public static <K, V> ShardedHashMap<K, V> tryWithShardsAndCap(Class<? super K> keyType,
                                                                  Class<? super V> valueType, int shards, int cap) {
        final int effectiveCap = effectiveCap(cap);
        final int requested = requestedShards(shards, effectiveCap);
        if (requested > effectiveCap) {
            throw new ShardCountException(requested, effectiveCap);
        }
        return ShardedHashMap.<K, V>builder(keyType, valueType).maxShards(effectiveCap).shards(requested).build();
    }

    private static int effectiveCap(int cap) {
        return Math.min(MAX_SHARDS, Math.max(cap, 1));
    }

    /** 0 means the default; negative counts are refused. */
    static int requestedShards(int shards, int cap) {
        if (shards < 0) {
            throw new ShardCountException(shards, cap);
        }
        return shards == 0 ? DEFAULT_SHARDS : shards;
    }

    // =========================================================================================================
    // Reads
    // =========================================================================================================

    /**
     * Returns a decoded copy of the value of {@code key}, or null. Takes no lock unless a writer holds the key's
     * shard.
     *
     * @param key the key; a key of another type is simply absent
     * @return the value, or null if absent
     * @throws NullPointerException  if {@code key} is null
     * @throws IllegalStateException if the map is closed
     */
    @Override
    public V get(Object key) {
        return engine.optimisticGet(requireNonNull(key, "key"), null);
    }

    /**
     * Like {@link #get(Object)}, but decodes into {@code reuse} when the value codec supports it, so that a hot
     * loop reads without allocating.
     *
     * @param key   the key
     * @param reuse an instance to overwrite, or null
     * @return {@code reuse} (or a new instance) holding the value, or null if absent
     * @throws NullPointerException  if {@code key} is null
     * @throws IllegalStateException if the map is closed
     */
    public V get(Object key, V reuse) {
        return engine.optimisticGet(requireNonNull(key, "key"), reuse);
    }

    /**
     * The value of {@code key}, or {@code defaultValue}.
     *
     * @param key          the key
     * @param defaultValue returned when absent
     * @return the value or the default
     */
    @Override
    public V getOrDefault(Object key, V defaultValue) {
        final V value = get(key);
        return value != null ? value : defaultValue;
    }

    /**
     * Whether {@code key} has a value; reads like {@link #get} without copying the value.
     *
     * @param key the key
     * @return true if present
     * @throws NullPointerException  if {@code key} is null
     * @throws IllegalStateException if the map is closed
     */
    @Override
    public boolean containsKey(Object key) {
        return engine.optimisticContainsKey(requireNonNull(key, "key"));
    }

    /**
     * Whether some key maps to a value equal to {@code value}: a full scan (arrays compare by content).
     *
     * @param value the value
     * @return true if found
     */
    @Override
    public boolean containsValue(Object value) {
        requireNonNull(value, "value");
        final Iterator<V> it = new ShardSnapshotIterator<>(this, ShardSnapshotIterator.VALUES);
        while (it.hasNext()) {
            if (ValueEquality.valueEquals(value, it.next())) {
                return true;
            }
        }
        return false;
    }

    // =========================================================================================================
    // Primitive long -> long access: no boxing, no allocation
    // =========================================================================================================

    /**
     * The value of a {@code long} key of a {@code Long -> Long} map, without boxing or allocation.
     *
     * @param key          the key
     * @param missingValue returned when the key is absent (choose a value you never store)
     * @return the value or {@code missingValue}
     * @throws UnsupportedOperationException if the map does not use the built-in long codecs for keys and values
     * @throws IllegalStateException         if the map is closed
     */
    public long getLong(long key, long missingValue) {
        return engine.optimisticGetLong(key, missingValue);
    }

    /**
     * Reads a batch of {@code long} keys of a {@code Long -> Long} map: {@code values[i] = getLong(keys[i],
     * missingValue)} for every {@code i} in {@code [offset, offset + length)}, without boxing or allocation.
     *
     * <p>Why a batch: every single read announces itself to the map's memory reclamation with a fence; a batch
     * announces itself once per 64 keys, and the cache misses of independent keys overlap, so out of cache a key
     * costs less than through {@link #getLong}. Each key is read atomically; the batch as a whole is not a
     * snapshot: a write that lands during the batch may be seen by some keys and not by others.
     *
     * @param keys         the keys to read
     * @param values       receives the value of {@code keys[i]} at index {@code i}, or {@code missingValue}
     * @param offset       the first index read in {@code keys} and written in {@code values}
     * @param length       how many keys to read
     * @param missingValue written for an absent key (choose a value you never store)
     * @throws NullPointerException          if {@code keys} or {@code values} is null
     * @throws IndexOutOfBoundsException     if {@code [offset, offset + length)} is not inside both arrays
     * @throws UnsupportedOperationException if the map does not use the built-in long codecs for keys and values
     * @throws IllegalStateException         if the map is closed (values read before the close stay written)
     */
    public void getLongs(long[] keys, long[] values, int offset, int length, long missingValue) {
        requireNonNull(keys, "keys");
        requireNonNull(values, "values");
        if (offset < 0 || length < 0 || offset > keys.length - length || offset > values.length - length) {
            throw new IndexOutOfBoundsException("offset " + offset + " and length " + length
                + " must lie inside keys (length " + keys.length + ") and values (length " + values.length + ")");
        }
        engine.optimisticGetLongs(keys, values, offset, offset + length, missingValue);
    }

    /**
     * Whether a {@code long} key is present in a {@code Long -> Long} map.
     *
     * @param key the key
     * @return true if present
     * @throws UnsupportedOperationException if the map does not use the built-in long codecs for keys and values
     */
    public boolean containsLong(long key) {
        return engine.optimisticContainsLong(key);
    }

    /**
     * Puts a {@code long} value for a {@code long} key of a {@code Long -> Long} map, without boxing.
     *
     * @param key          the key
     * @param value        the value
     * @param missingValue returned when the key was absent
     * @return the previous value, or {@code missingValue}
     * @throws EntryTooLargeException        if 16 bytes exceed the map's maximum entry size (like {@link #put})
     * @throws UnsupportedOperationException if the map does not use the built-in long codecs for keys and values
     */
    public long putLong(long key, long value, long missingValue) {
        return engine.putLong(key, value, missingValue);
    }

    /**
     * Atomically adds {@code delta} to the value of a {@code long} key (absent counts as 0), without boxing.
     *
     * @param key   the key
     * @param delta the amount to add
     * @return the new value
     * @throws EntryTooLargeException        if 16 bytes exceed the map's maximum entry size (like {@link #put})
     * @throws UnsupportedOperationException if the map does not use the built-in long codecs for keys and values
     */
    public long addAndGetLong(long key, long delta) {
        return engine.addAndGetLong(key, delta);
    }

    /**
     * Removes a {@code long} key of a {@code Long -> Long} map, without boxing.
     *
     * @param key          the key
     * @param missingValue returned when the key was absent
     * @return the removed value, or {@code missingValue}
     */
    public long removeLong(long key, long missingValue) {
        return engine.removeLong(key, missingValue);
    }

    // =========================================================================================================
    // Writes
    // =========================================================================================================

    /**
     * Associates {@code value} with {@code key}.
     *
     * @param key   the key
     * @param value the value
     * @return the previous value, or null
     * @throws NullPointerException                                 if key or value is null
     * @throws EntryTooLargeException                               if the encoded entry exceeds the maximum size
     * @throws io.starshard.codec.CodecException                    if a codec fails (the map is unchanged)
     * @throws io.starshard.offheap.OffHeapMemoryExhaustedException if the budget is reached (map unchanged)
     * @throws IllegalStateException                                if the map is closed
     */
    @Override
    public V put(K key, V value) {
        return engine.put(requireNonNull(key, "key"), requireNonNull(value, "value"), false);
    }

    /**
     * Associates {@code value} with {@code key} like {@link #put}, but does not decode the previous value: the
     * write of a hot loop, allocation-free for the built-in codecs. Throws what {@link #put} throws.
     *
     * @param key   the key
     * @param value the value
     * @return true if the key was absent (an entry was added), false if its value was replaced
     */
    public boolean set(K key, V value) {
        return engine.set(requireNonNull(key, "key"), requireNonNull(value, "value"));
    }

    /**
     * Associates {@code value} with {@code key} unless the key already has a value.
     *
     * @param key   the key
     * @param value the value
     * @return the existing value (map unchanged), or null if {@code value} was inserted
     */
    @Override
    public V putIfAbsent(K key, V value) {
        return engine.put(requireNonNull(key, "key"), requireNonNull(value, "value"), true);
    }

    /**
     * Replaces the value of {@code key} if it has one.
     *
     * @param key   the key
     * @param value the new value
     * @return the previous value, or null if absent (map unchanged)
     */
    @Override
    public V replace(K key, V value) {
        return engine.replace(requireNonNull(key, "key"), requireNonNull(value, "value"));
    }

    /**
     * Replaces the value of {@code key} only if it currently equals {@code oldValue} (arrays by content).
     *
     * @param key      the key
     * @param oldValue the expected value
     * @param newValue the new value
     * @return true if replaced
     */
    @Override
    public boolean replace(K key, V oldValue, V newValue) {
        requireNonNull(key, "key");
        requireNonNull(oldValue, "oldValue");
        return engine.replace(key, oldValue, requireNonNull(newValue, "newValue"));
    }

    /**
     * Removes the value of {@code key}.
     *
     * @param key the key
     * @return the removed value, or null if absent
     */
    @Override
    public V remove(Object key) {
        return engine.remove(requireNonNull(key, "key"));
    }

    /**
     * Removes {@code key} only if its value equals {@code value} (arrays by content).
     *
     * @param key   the key
     * @param value the expected value
     * @return true if removed
     */
    @Override
    public boolean remove(Object key, Object value) {
        requireNonNull(key, "key");
        requireNonNull(value, "value");
        if (!engine.isValueType(value)) {
            engine.checkUsable();
            return false;
        }
        return engine.remove(key, value);
    }

    // =========================================================================================================
    // Functional updates: the function runs under the key's shard write lock, at most once
    // =========================================================================================================

    /**
     * Computes a value for an absent key. A present key's value is returned without taking the lock.
     *
     * @param key             the key
     * @param mappingFunction computes the value; returning null inserts nothing
     * @return the existing or the inserted value, or null
     */
    @Override
    public V computeIfAbsent(K key, Function<? super K, ? extends V> mappingFunction) {
        requireNonNull(key, "key");
        return engine.computeIfAbsent(key, requireNonNull(mappingFunction, "mappingFunction"));
    }

    /**
     * Computes a new value for a present key; a null result removes it.
     *
     * @param key               the key
     * @param remappingFunction computes the new value from the current one
     * @return the new value, or null if absent or removed
     */
    @Override
    public V computeIfPresent(K key, BiFunction<? super K, ? super V, ? extends V> remappingFunction) {
        requireNonNull(key, "key");
        return engine.compute(key, requireNonNull(remappingFunction, "remappingFunction"), true);
    }

    /**
     * Computes a new value from the current one (null if absent); a null result removes the key.
     *
     * @param key               the key
     * @param remappingFunction computes the new value
     * @return the new value, or null
     */
    @Override
    public V compute(K key, BiFunction<? super K, ? super V, ? extends V> remappingFunction) {
        requireNonNull(key, "key");
        return engine.compute(key, requireNonNull(remappingFunction, "remappingFunction"), false);
    }

    /**
     * Inserts {@code value} if absent, else combines it with the current value; a null result removes the key.
     *
     * @param key               the key
     * @param value             the value to insert or combine
     * @param remappingFunction combines the current value and {@code value}
     * @return the new value, or null if removed
     */
    @Override
    public V merge(K key, V value, BiFunction<? super V, ? super V, ? extends V> remappingFunction) {
        requireNonNull(key, "key");
        requireNonNull(value, "value");
        return engine.merge(key, value, requireNonNull(remappingFunction, "remappingFunction"));
    }

    // =========================================================================================================
    // Bulk and whole-map operations
    // =========================================================================================================

    /**
     * Puts every mapping of {@code m}, one entry at a time (each atomic, the whole not).
     *
     * @param m the mappings
     * @throws NullPointerException  if {@code m}, a key or a value is null (checked first: nothing is written)
     * @throws BatchWriteException   if an entry fails (budget, size, codec, a concurrent close): says how many
     *                               were written; its cause is the entry's failure
     * @throws IllegalStateException if the map is closed
     */
    @Override
    public void putAll(Map<? extends K, ? extends V> m) {
        requireNonNull(m, "m");
        engine.bulk().writeAll("putAll", m.entrySet(), m.size());
    }

    /**
     * Puts every entry in order; a key repeated later in the input wins. Throws what {@link #putAll} throws.
     *
     * @param entries the entries
     * @return how many keys were new
     */
    public int batchInsert(Collection<? extends Map.Entry<? extends K, ? extends V>> entries) {
        requireNonNull(entries, "entries");
        return engine.bulk().writeAll("batchInsert", entries, entries.size());
    }

    /**
     * {@link #batchInsert(Collection)} for a map's mappings.
     *
     * @param entries the mappings
     * @return how many keys were new
     */
    public int batchInsert(Map<? extends K, ? extends V> entries) {
        requireNonNull(entries, "entries");
        return engine.bulk().writeAll("batchInsert", entries.entrySet(), entries.size());
    }

    /**
     * The values of {@code keys} in input order, null where absent.
     *
     * @param keys the keys
     * @return a new list with one element per key
     * @throws NullPointerException if {@code keys} or one of them is null (checked first)
     */
    public List<V> batchGet(Collection<? extends K> keys) {
        return engine.bulk().batchGet(requireNonNull(keys, "keys"));
    }

    /**
     * Removes every key of {@code keys}.
     *
     * @param keys the keys
     * @return how many were present and removed
     * @throws NullPointerException if {@code keys} or one of them is null (checked first: nothing is removed)
     */
    public int batchRemove(Collection<? extends K> keys) {
        return engine.bulk().batchRemove(requireNonNull(keys, "keys"));
    }

    /**
     * Keeps the entries for which {@code keep} holds and removes the others. Each shard is processed atomically
     * under its write lock; the predicate must not use this map.
     *
     * @param keep the predicate
     * @return how many entries were removed
     */
    public int retain(BiPredicate<? super K, ? super V> keep) {
        return engine.bulk().retain(requireNonNull(keep, "keep"));
    }

    /**
     * Removes every entry, shard by shard, and gives their memory back: each shard returns to the footprint of a
     * new one (its first table, no arena chunk). The memory is freed once no optimistic reader can still be inside
     * it, so {@link #memoryStats()} shows it a moment later. During a rebalance, a shard that only partly belongs
     * to the cleared range has its entries removed one by one and keeps its memory until the rebalance releases it.
     */
    @Override
    public void clear() {
        engine.bulk().clear();
    }

    /**
     * Replaces each value with {@code function(key, value)}. Each replacement is atomic per key (a
     * compare-and-replace retried if the value changed meanwhile); the function runs outside any lock.
     *
     * @param function computes the new value; must not return null
     */
    @Override
    public void replaceAll(BiFunction<? super K, ? super V, ? extends V> function) {
        requireNonNull(function, "function");
        final Iterator<Map.Entry<K, V>> it = new ShardSnapshotIterator<>(this, ShardSnapshotIterator.ENTRIES);
        while (it.hasNext()) {
            final Map.Entry<K, V> entry = it.next();
            final K key = entry.getKey();
            V current = entry.getValue();
            while (current != null) {
                final V updated = requireNonNull(function.apply(key, current), "replaceAll function result");
                if (replace(key, current, updated)) {
                    break;
                }
                current = get(key);
            }
        }
    }

    /**
     * Calls {@code action} for every entry, shard by shard (each shard copied under its read lock first, so the
     * action runs without locks and may use the map).
     *
     * @param action the action
     */
    @Override
    public void forEach(BiConsumer<? super K, ? super V> action) {
        requireNonNull(action, "action");
        final Iterator<Map.Entry<K, V>> it = new ShardSnapshotIterator<>(this, ShardSnapshotIterator.ENTRIES);
        while (it.hasNext()) {
            final Map.Entry<K, V> entry = it.next();
            action.accept(entry.getKey(), entry.getValue());
        }
    }

    // =========================================================================================================
    // Size, views, Object methods
    // =========================================================================================================

    /**
     * Number of entries, capped at {@link Integer#MAX_VALUE}; O(1).
     *
     * @return the entry count
     */
    @Override
    public int size() {
        return (int) Math.min(Integer.MAX_VALUE, mappingCount());
    }

    /**
     * Number of entries as a long; O(1). Exact whenever no write is in flight.
     *
     * @return the entry count
     */
    public long mappingCount() {
        return engine.size();
    }

    /**
     * Whether the map has no entries.
     *
     * @return {@code mappingCount() == 0}
     */
    @Override
    public boolean isEmpty() {
        return mappingCount() == 0;
    }

    /**
     * A live view of the keys: removal goes through to the map; iteration and streams are per-shard consistent.
     *
     * @return the key set view
     */
    @Override
    public Set<K> keySet() {
        engine.checkUsable();
        final Set<K> view = keySetView;
        return view != null ? view : (keySetView = new KeySetView<>(this));
    }

    /**
     * A live view of the values: removal goes through to the map; iteration and streams are per-shard consistent.
     *
     * @return the values view
     */
    @Override
    public Collection<V> values() {
        engine.checkUsable();
        final Collection<V> view = valuesView;
        return view != null ? view : (valuesView = new ValuesView<>(this));
    }

    /**
     * A live view of the entries: removal and {@code Entry.setValue} go through to the map.
     *
     * @return the entry set view
     */
    @Override
    public Set<Map.Entry<K, V>> entrySet() {
        engine.checkUsable();
        final Set<Map.Entry<K, V>> view = entrySetView;
        return view != null ? view : (entrySetView = new EntrySetView<>(this));
    }

    /**
     * Compares with another map by the {@link Map#equals} contract.
     *
     * @param o another object
     * @return true if {@code o} is a map with the same mappings
     */
    @Override
    public boolean equals(Object o) {
        engine.checkUsable();
        if (o == this) {
            return true;
        }
        if (!(o instanceof Map<?, ?> other) || other.size() != size()) {
            return false;
        }
        try {
            final Iterator<Map.Entry<K, V>> it = new ShardSnapshotIterator<>(this, ShardSnapshotIterator.ENTRIES);
            while (it.hasNext()) {
                final Map.Entry<K, V> entry = it.next();
                if (!entry.getValue().equals(other.get(entry.getKey()))) {
                    return false;
                }
            }
        } catch (ClassCastException | NullPointerException e) {
            return false;
        }
        return true;
    }

    /**
     * Sum of {@code key.hashCode() ^ value.hashCode()} over the entries, per the {@link Map#hashCode} contract
     * (arrays hashed by content).
     *
     * @return the hash code
     */
    @Override
    public int hashCode() {
        int h = 0;
        final Iterator<Map.Entry<K, V>> it = new ShardSnapshotIterator<>(this, ShardSnapshotIterator.ENTRIES);
        while (it.hasNext()) {
            final Map.Entry<K, V> entry = it.next();
            h += ValueEquality.elementHash(entry.getKey()) ^ ValueEquality.elementHash(entry.getValue());
        }
        return h;
    }

    /**
     * {@code {k1=v1, k2=v2}} like other maps; {@code ShardedHashMap{closed}} once closed.
     *
     * @return the string form
     */
    @Override
    public String toString() {
        if (engine.isClosed()) {
            return "ShardedHashMap{closed}";
        }
        final StringBuilder sb = new StringBuilder("{");
        final Iterator<Map.Entry<K, V>> it = new ShardSnapshotIterator<>(this, ShardSnapshotIterator.ENTRIES);
        while (it.hasNext()) {
            final Map.Entry<K, V> entry = it.next();
            sb.append(entry.getKey()).append('=').append(entry.getValue());
            if (it.hasNext()) {
                sb.append(", ");
            }
        }
        return sb.append('}').toString();
    }

    // =========================================================================================================
    // Rebalance: change the shard count while the map is in use
    // =========================================================================================================

    /**
     * Changes the shard count now, in the calling thread, and returns when every entry is in its new shard.
     * Other threads keep reading and writing meanwhile: entries move in steps that each hold a shard lock for at
     * most {@link RebalanceOptions#DEFAULT_MAX_PAUSE}, as bytes (never decoded), routed by their stored hash. A
     * count equal to the current one returns at once with nothing moved.
     *
     * @param shards the new shard count; 0 means {@value #DEFAULT_SHARDS}
     * @return what was moved and how long it took
     * @throws ShardCountException   if {@code shards} is negative or above {@link #maxShards()}
     * @throws IllegalStateException if a rebalance is already running (the message names it), or the map is
     *                               closed (also when it closes during the rebalance)
     */
    public RebalanceReport rebalanceTo(int shards) {
        return engine.rebalanceTo(validRebalanceTarget(shards));
    }

    /**
     * Starts changing the shard count, and returns at once: entries then move when {@link #advanceRebalance(long)}
     * is called, when a write touches a key not moved yet, and nothing else. Every operation of the map, its
     * views and iterators behave meanwhile exactly as without a rebalance. Same as
     * {@link #startRebalanceOnline(int, RebalanceOptions)} with {@link RebalanceOptions#defaults()}.
     *
     * @param shards the new shard count; 0 means {@value #DEFAULT_SHARDS}
     * @return the status right after the start ({@code IDLE} if the count did not change)
     * @throws ShardCountException   if {@code shards} is negative or above {@link #maxShards()}
     * @throws IllegalStateException if a rebalance is already running, or the map is closed
     */
    public RebalanceStatus startRebalanceOnline(int shards) {
        return startRebalanceOnline(shards, RebalanceOptions.defaults());
    }

    /**
     * Starts changing the shard count, and returns at once. With {@link RebalanceOptions#background(boolean)} a
     * daemon thread moves the entries until done; otherwise they move when {@link #advanceRebalance(long)} is
     * called. Every operation of the map, its views and iterators behave meanwhile exactly as without a rebalance:
     * a key is in its old shard or in its new one, never both, and every operation looks where it is.
     *
     * @param shards  the new shard count; 0 means {@value #DEFAULT_SHARDS}
     * @param options batch size, maximum pause, background thread, progress listener
     * @return the status right after the start ({@code IDLE} if the count did not change)
     * @throws ShardCountException   if {@code shards} is negative or above {@link #maxShards()}
     * @throws IllegalStateException if a rebalance is already running, or the map is closed
     */
    public RebalanceStatus startRebalanceOnline(int shards, RebalanceOptions options) {
        requireNonNull(options, "options");
        return engine.startRebalance(validRebalanceTarget(shards), options);
    }

    /**
     * Moves up to {@code budget} entries of the running rebalance, in steps bounded by its options, and finishes
     * it when none is left. Any number of threads may call it at once; without a running rebalance it does
     * nothing.
     *
     * @param budget most entries to move, positive
     * @return the status afterwards
     * @throws IllegalArgumentException if {@code budget} is not positive
     * @throws IllegalStateException    if the map is closed
     * @throws io.starshard.offheap.OffHeapMemoryExhaustedException if a new shard needs memory the budget refuses
     *                                  (the entry stays where it was)
     */
    public RebalanceStatus advanceRebalance(long budget) {
        if (budget < 1) {
            throw new IllegalArgumentException("budget must be at least 1 entry, was " + budget);
        }
        return engine.advanceRebalance(budget);
    }

    /**
     * Where the running rebalance stands, or the last one if none runs.
     *
     * @return the status
     */
    public RebalanceStatus rebalanceStatus() {
        return engine.rebalanceStatus();
    }

    /**
     * Waits until no rebalance runs, e.g. for one moved by a background thread. After a background rebalance it
     * also waits for that thread's last call of the progress listener, so that nothing it prints comes after
     * this method returns.
     *
     * @param timeout how long at most
     * @return true if none runs, false on timeout or interrupt
     * @throws IllegalStateException if the map is closed
     */
    public boolean awaitRebalance(java.time.Duration timeout) {
        requireNonNull(timeout, "timeout");
        return engine.awaitRebalance(Math.max(0, timeout.toNanos()));
    }

    private int validRebalanceTarget(int shards) {
        engine.checkUsable();   // a closed map says so before judging the count
        final int requested = requestedShards(shards, maxShards);
        if (requested > maxShards) {
            throw new ShardCountException(requested, maxShards);
        }
        return requested;
    }

    // =========================================================================================================
    // Shards, stats, configuration, lifecycle
    // =========================================================================================================

    /**
     * Number of shards keys are routed to.
     *
     * @return the shard count
     */
    public int shardCount() {
        return engine.shardCount();
    }

    /**
     * The largest shard count this map may have (the cap given at construction).
     *
     * @return the cap
     */
    public int maxShards() {
        engine.checkUsable();
        return maxShards;
    }

    /**
     * Shards whose storage exists: shards are created by their first write, never by reads.
     *
     * @return the number of initialized shards
     */
    public int initializedShards() {
        return engine.initializedShards();
    }

    /**
     * Entries per shard, in shard order (0 for uninitialized shards).
     *
     * @return a new array of {@link #shardCount()} loads
     */
    public long[] perShardLoad() {
        return engine.perShardLoad();
    }

    /**
     * How entries are spread over shards: total and initialized shards, empty shards, average and maximum load.
     *
     * @return the spread of entries over shards
     */
    public ShardStats shardStats() {
        return engine.shardStats();
    }

    /**
     * Off-heap memory held by the map. Unlike the other methods it also answers after {@link #close()}, so a
     * caller can check that every byte came back: then {@code usedBytes} is 0 and there are no entries (while a
     * {@code close()} is still running, it may show the memory not yet freed).
     *
     * @return memory statistics
     */
    public MemoryStats memoryStats() {
        return engine.memoryStats();
    }

    /**
     * Off-heap memory of each shard: reserved, live and free bytes and the arena's fragmentation, so that a shard
     * that wastes memory shows where the map's total would average it away. Each row is read under its shard's
     * read lock; while a rebalance runs, the rows are the new shards', and the previous shards' memory is in
     * {@link #memoryStats()} only.
     *
     * @return one row per shard, in shard order (a shard not created yet holds nothing)
     * @throws IllegalStateException if the map is closed
     */
    public java.util.List<ShardMemoryStats> shardMemoryStats() {
        return engine.shardMemoryStats();
    }

    /**
     * Gives back, now, the memory that removed and replaced entries left behind: every arena chunk at least an
     * eighth free is emptied (its live entries copied into the shard's open chunk, their slots repointed, the chunk
     * freed once no optimistic reader can be in it), and tables much larger than their entries are replaced by
     * smaller ones. Writes do the same a little at a time whenever a sixth of a shard's chunks is dead, so calling
     * this is only needed to return memory at once (after a large removal, before a snapshot of the footprint).
     * It works shard by shard in steps that each hold one shard's lock for at most about a millisecond; reads and
     * writes go on meanwhile.
     *
     * @return bytes of off-heap memory given back to the budget and the operating system
     * @throws IllegalStateException if the map is closed
     */
    public long compact() {
        return engine.compact();
    }

    /**
     * The limit on encoded key plus value bytes of one entry.
     *
     * @return bytes
     */
    public int maxEntryBytes() {
        return engine.maxEntryBytes();
    }

    /**
     * The seed of the key hash (recorded so that a persisted map can be reopened).
     *
     * @return the seed
     */
    public long hashSeed() {
        return engine.hashSeed();
    }

    /**
     * Serialises the map's entries, shard count and snapshot mode (not its memory, and not its hash seed): a
     * stream that deserialises into a new, equal map with the built-in or default codecs of its types. Keys and
     * values must be {@link java.io.Serializable}. Per-shard consistent while other threads write.
     *
     * @return the serialised form
     */
    private Object writeReplace() {
        engine.checkUsable();
        return new SerializedMap(keyType(), valueType(), shardCount(), snapshotMode(), false, this);
    }

    /** The key class (serialisation rebuilds the map with it). */
    Class<K> keyType() {
        return engine.keyType();
    }

    /** The value class. */
    Class<V> valueType() {
        return engine.valueType();
    }

    private void readObject(java.io.ObjectInputStream in) throws java.io.InvalidObjectException {
        throw new java.io.InvalidObjectException("a ShardedHashMap is read through its serialised form");
    }

    /**
     * Writes the map to {@code file}: a versioned, checksummed file of the entries' raw bytes (no decode, no
     * re-encode) that {@link ShardedHashMapBuilder#load} reads back, into any shard count. Per-shard consistent
     * while other threads write, and complete during a rebalance. Written to a temporary file beside the target
     * and renamed over it atomically: a crash mid-save leaves the previous file whole. Needs Chronicle Bytes on
     * the class path (an optional dependency of this library) and its JVM flags (README).
     *
     * @param file the target
     * @throws java.io.IOException if writing fails; the previous file, if any, is unchanged
     * @throws IllegalStateException if the map is closed
     */
    public void save(java.nio.file.Path file) throws java.io.IOException {
        save(file, null);
    }

    /**
     * {@link #save(java.nio.file.Path)}, telling {@code listener} how far it has got.
     *
     * @param file     the target
     * @param listener progress after every block of entries, or null
     * @throws java.io.IOException if writing fails; the previous file, if any, is unchanged
     * @throws IllegalStateException if the map is closed
     */
    public void save(java.nio.file.Path file, PersistenceListener listener) throws java.io.IOException {
        io.starshard.internal.MapFileWriter.save(engine, java.util.Objects.requireNonNull(file, "file"), listener);
    }

    /**
     * This map as an {@link AsyncShardedHashMap}: the same storage, operations that return futures and never wait
     * for a lock in the caller's thread; contended operations run on the {@link AsyncShardedHashMap#defaultExecutor()
     * default executor}.
     *
     * @return a view of this map
     */
    public AsyncShardedHashMap<K, V> async() {
        return async(AsyncShardedHashMap.defaultExecutor());
    }

    /**
     * {@link #async()} with contended operations, scans and administration run on {@code executor}. It must not be
     * the thread that must never block (an event loop): what runs there may wait for a lock.
     *
     * @param executor where operations that would wait run
     * @return a view of this map
     */
    public AsyncShardedHashMap<K, V> async(java.util.concurrent.Executor executor) {
        engine.checkUsable();
        return new AsyncShardedHashMap<>(this, executor);
    }

    /**
     * Takes a checkpoint of a {@link ShardedHashMapBuilder#persistedTo persisted} map now: the map is saved into its
     * directory and the journal written before it is deleted, so a reopening has less to replay. Writers carry on
     * meanwhile. The map also checkpoints by itself (in the background after
     * {@link ShardedHashMapBuilder#checkpointAfter} journal bytes, and when closed).
     *
     * @throws java.io.IOException   if the checkpoint cannot be written (the previous one and the journal stay)
     * @throws IllegalStateException if the map is closed or not persisted
     */
    public void checkpoint() throws java.io.IOException {
        engine.persistedStore().checkpoint();
    }

    /**
     * Forces every write a {@link ShardedHashMapBuilder#persistedTo persisted} map has journaled to the storage
     * device (an {@code fsync}): once it returns, they survive a power loss, not only the death of the process.
     *
     * @throws java.io.IOException   if the device reports a failure
     * @throws IllegalStateException if the map is closed or not persisted
     */
    public void sync() throws java.io.IOException {
        engine.persistedStore().sync();
    }

    /**
     * Takes a snapshot: an immutable, per-shard consistent, off-heap copy of the map that later writes do not
     * change, readable as a {@link Map} (lookups, iteration, streams) until it is closed. What taking it costs
     * depends on the map's {@link SnapshotMode}: {@code CLONE} copies every shard now, {@code CACHED} only the
     * shards changed since the last snapshot, {@code COW} nothing now (a shard is copied when first written).
     * Safe during a rebalance: every key is in it once. Never creates a shard.
     *
     * @return the snapshot; close it (try-with-resources)
     * @throws IllegalStateException if the map is closed
     */
    public MapSnapshot<K, V> snapshot() {
        return new MapSnapshot<>(engine.snapshots().snapshot(false));
    }

    /**
     * {@link #snapshot()}, also retained by the map (the latest {@link ShardedHashMapBuilder#retainVersions} of
     * them) so that {@link #snapshotAtVersion} finds it by its {@link MapSnapshot#version()}. Closing the returned
     * snapshot does not end the retention; a newer versioned snapshot pushing it out, or the map closing, does.
     *
     * @return the snapshot; close it when done with it
     * @throws IllegalStateException if the map is closed
     */
    public MapSnapshot<K, V> versionedSnapshot() {
        return new MapSnapshot<>(engine.snapshots().snapshot(true));
    }

    /**
     * The map as it was at {@code version}: a new handle on the retained versioned snapshot of that version, with
     * exactly the data it held then; empty if no retained snapshot has that version (never taken, not versioned,
     * or pushed out by newer ones).
     *
     * @param version a version returned by {@link MapSnapshot#version()}
     * @return the snapshot (close it), or empty
     * @throws IllegalStateException if the map is closed
     */
    public Optional<MapSnapshot<K, V>> snapshotAtVersion(long version) {
        return engine.snapshots().snapshotAtVersion(version).map(MapSnapshot::new);
    }

    /**
     * The mode {@link #snapshot()} works in.
     *
     * @return the snapshot mode
     */
    public SnapshotMode snapshotMode() {
        engine.checkUsable();
        return engine.snapshots().mode();
    }

    /**
     * What snapshots have cost so far: copies made and reused, copies made by writes, bytes held. Answers after
     * {@link #close()} too, so that a caller can check that the copies of closed snapshots came back.
     *
     * @return the counters
     */
    public SnapshotStats snapshotStats() {
        return engine.snapshots().stats();
    }

    /**
     * Whether {@link #close()} has been called (or the leak cleaner closed an unreachable map).
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return engine.isClosed();
    }

    /**
     * Frees all off-heap memory. Idempotent. Operations racing with close either complete before it or throw
     * {@code IllegalStateException("map is closed")}; none can touch freed memory. On return (of every call, also
     * when two threads close at once) the memory accounting of this map is zero, except for a shard being created
     * concurrently, which frees itself before the call creating it returns.
     *
     * @throws IllegalStateException if called from a compute function of this map
     */
    @Override
    public void close() {
        engine.close();
    }

    // =========================================================================================================
    // Aliases, kept for users of the API this map's names come from
    // =========================================================================================================

    /**
     * Alias of {@link #put}.
     *
     * @param key   the key
     * @param value the value
     * @return the previous value, or null
     */
    public V insert(K key, V value) {
        return put(key, value);
    }

    /**
     * Alias of {@link #containsKey}.
     *
     * @param key the key
     * @return true if present
     */
    public boolean contains(Object key) {
        return containsKey(key);
    }

    /**
     * Alias of {@link #mappingCount()}.
     *
     * @return the entry count
     */
    public long len() {
        return mappingCount();
    }

    /**
     * The keys as a new list, taken shard by shard (a copy, unlike {@link #keySet()}).
     *
     * @return a new list
     */
    public List<K> keys() {
        final List<K> keys = new ArrayList<>();
        new ShardSnapshotIterator<K, V, K>(this, ShardSnapshotIterator.KEYS).forEachRemaining(keys::add);
        return keys;
    }

    /**
     * Alias of {@code entrySet().iterator()}.
     *
     * @return an iterator whose {@code remove} removes the key
     */
    public Iterator<Map.Entry<K, V>> iter() {
        return new ShardSnapshotIterator<>(this, ShardSnapshotIterator.ENTRIES);
    }

    /**
     * Alias of {@link #withShards}.
     *
     * @param keyType   key class
     * @param valueType value class
     * @param shards    shard count; 0 means {@value #DEFAULT_SHARDS}; clamped to {@value #MAX_SHARDS}
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     * @throws ShardCountException if {@code shards} is negative
     */
    public static <K, V> ShardedHashMap<K, V> create(Class<? super K> keyType, Class<? super V> valueType, int shards) {
        return withShards(keyType, valueType, shards);
    }

    // =========================================================================================================
    // For the views, iterators and tests of this package
    // =========================================================================================================

    MapEngine<K, V> engine() {
        return engine;
    }

    /** Runs the engine's invariant checks (for tests): throws {@code IllegalStateException} on a violation. */
    void checkInvariants() {
        engine.checkInvariants();
    }

    /** The off-heap accountant, for tests that watch the memory of an unreachable map come back. */
    OffHeapMemory memoryAccountant() {
        return engine.memoryAccountant();
    }

    private static <T> T requireNonNull(T value, String name) {
        if (value == null) {
            throw new NullPointerException(name);
        }
        return value;
    }
}
