package io.starshard;

import io.starshard.codec.Codec;
import io.starshard.codec.CodecException;
import io.starshard.codec.Codecs;
import io.starshard.codec.EncodingTooLargeException;
import io.starshard.codec.LongCodec;
import io.starshard.internal.Shard;
import io.starshard.internal.ThreadContext;
import io.starshard.internal.ThreadContext.Frame;
import io.starshard.offheap.EntryTooLargeException;
import io.starshard.offheap.EpochDomain;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentSpec;
import io.starshard.offheap.SegmentStats;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.BiPredicate;
import java.util.function.Function;

/**
 * A sharded, concurrent map that keeps every key and value off the Java heap.
 *
 * <p>Why: a cache of millions of entries on the heap costs GC time in proportion to its size. Here entries are
 * bytes in off-heap hash tables (one per shard), encoded by {@link Codec}s; the heap holds only the shard
 * objects. The map implements {@link ConcurrentMap} completely and offers the API of the Rust seed (Starshard
 * 2.2) beside it ({@link #insert}, {@link #batchInsert}, {@link #retain}, {@link #shardStats}, ...), plus
 * allocation-free primitive methods for {@code long -> long} maps ({@link #getLong}, {@link #putLong}, and
 * {@link #getLongs} for batches).
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
 *       writes of it throw {@link EntryTooLargeException}.</li>
 *   <li>Every single-key operation is atomic (linearizable). {@code compute}-style functions run under the key's
 *       shard lock, at most once per call, and must not use this map: every method of the map and of its views
 *       and iterators then throws {@link IllegalStateException} instead of deadlocking.</li>
 *   <li>{@link #size()} is exact whenever no write is in flight. Iteration, views, {@code equals},
 *       {@code hashCode} and stats are <em>per-shard consistent</em>: each shard is copied under its read lock,
 *       one shard at a time.</li>
 *   <li>{@link #close()} frees all off-heap memory. Every later call, and every call racing with it, throws
 *       {@code IllegalStateException("map is closed")}.</li>
 * </ul>
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Routing.</b> A seeded 64-bit hash of the encoded key picks the shard (high 32 bits, multiply-shift)
 *       and the slot inside it (lower bits); see {@link KeyHasher}. Shards are created on first write; reads
 *       of absent keys never create one.</li>
 *   <li><b>Reads</b> take no lock: inside an {@link EpochDomain} section they take a {@code StampedLock}
 *       optimistic stamp, copy the value bytes into a per-thread scratch buffer, validate, and only then decode.
 *       A failed validation retries under the read lock. The epoch section guarantees the memory read is still
 *       mapped even if the table grows or the map closes meanwhile.</li>
 *   <li><b>Writes</b> encode key and value into per-thread scratch before locking (a codec failure changes
 *       nothing), then take the shard's write lock. Every allocation a write needs is made before the segment
 *       changes, so a full memory budget also changes nothing.</li>
 *   <li><b>Size</b> is a {@link LongAdder} updated under the shard locks.</li>
 * </ul>
 *
 * @param <K> key type
 * @param <V> value type
 */
public final class ShardedHashMap<K, V> implements ConcurrentMap<K, V>, AutoCloseable {
    /** Shard count used when 0 is requested, as in the seed. */
    public static final int DEFAULT_SHARDS = 64;
    /** Largest shard count, as in the seed. */
    public static final int MAX_SHARDS = 262_144;
    /** Default limit on the encoded key plus value of one entry. */
    public static final int DEFAULT_MAX_ENTRY_BYTES = 1 << 20;

    private static final System.Logger LOG = System.getLogger(ShardedHashMap.class.getName());
    private static final VarHandle SHARDS = MethodHandles.arrayElementVarHandle(Shard[].class);
    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(ShardedHashMap.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Class<K> keyType;
    private final Class<V> valueType;
    private final Codec<K> keyCodec;
    private final Codec<V> valueCodec;
    private final KeyHasher hasher;
    /** Fixed key width 1..8 (hashed with the bijective {@code hashFixed}), or 0 for other keys. */
    private final int fixedKeyWidth;
    /** Long keys and long values stored inline: the primitive methods apply. */
    private final boolean longToLong;
    private final SegmentSpec spec;
    private final OffHeapMemory memory;
    private final EpochDomain epochs = EpochDomain.shared();
    private final Shard[] shards;
    private final int shardCount;
    private final int maxShards;
    private final int maxEntryBytes;
    private final int maxKeyBytes;
    private final SnapshotMode snapshotMode;
    private final LongAdder size = new LongAdder();
    private volatile boolean closed;

    private Set<K> keySetView;
    private Collection<V> valuesView;
    private Set<Map.Entry<K, V>> entrySetView;

    private ShardedHashMap(Builder<K, V> b, int shardCount) {
        this.keyType = b.keyType;
        this.valueType = b.valueType;
        this.keyCodec = b.keyCodec != null ? b.keyCodec : Codecs.forClass(b.keyType);
        this.valueCodec = b.valueCodec != null ? b.valueCodec : Codecs.forClass(b.valueType);
        this.hasher = b.hashSeed != null ? new KeyHasher(b.hashSeed) : KeyHasher.randomSeed();
        this.shardCount = shardCount;
        this.maxShards = b.maxShards;
        this.maxEntryBytes = b.maxEntryBytes;
        this.maxKeyBytes = Math.min(maxEntryBytes, SegmentSpec.MAX_KEY_BYTES);
        this.snapshotMode = b.snapshotMode;
        this.memory = new OffHeapMemory(b.memoryBudget);
        final int keyWidth = keyCodec.fixedLength();
        final int valueWidth = valueCodec.fixedLength();
        this.fixedKeyWidth = keyWidth >= 1 && keyWidth <= SegmentSpec.INLINE_MAX_KEY_BYTES ? keyWidth : 0;
        final SegmentSpec base = SegmentSpec.fitsInline(keyWidth, valueWidth)
            ? SegmentSpec.inline(keyWidth, valueWidth, hasher)
            : SegmentSpec.indirect(maxEntryBytes);
        this.spec = base.withInitialEntries(initialEntriesPerShard(b.expectedEntries, shardCount));
        this.longToLong = keyCodec instanceof LongCodec && valueCodec instanceof LongCodec && spec.isInline();
        this.shards = new Shard[shardCount];
    }

    /** Entries a shard's first table holds: the expected share plus four standard deviations of slack. */
    private static int initialEntriesPerShard(long expectedEntries, int shardCount) {
        if (expectedEntries <= 0) {
            return SegmentSpec.DEFAULT_INITIAL_ENTRIES;
        }
        final double share = (double) expectedEntries / shardCount;
        return (int) Math.min(Integer.MAX_VALUE / 2, Math.ceil(share + 4 * Math.sqrt(share) + 8));
    }

    // =========================================================================================================
    // Construction
    // =========================================================================================================

    /**
     * Starts a builder. Keys and values of {@code Long}, {@code Integer}, {@code Double}, {@code String} and
     * {@code byte[]} get allocation-free built-in codecs; any other type gets a Kryo codec.
     *
     * @param keyType   key class (a primitive class means its wrapper)
     * @param valueType value class
     * @param <K>       key type
     * @param <V>       value type
     * @return a builder with the defaults: 64 shards, 1 MiB maximum entry, no budget, random seed
     */
    public static <K, V> Builder<K, V> builder(Class<K> keyType, Class<V> valueType) {
        return new Builder<>(keyType, valueType);
    }

    /**
     * A map with {@value #DEFAULT_SHARDS} shards.
     *
     * @param keyType   key class
     * @param valueType value class
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     */
    public static <K, V> ShardedHashMap<K, V> create(Class<K> keyType, Class<V> valueType) {
        return builder(keyType, valueType).build();
    }

    /**
     * The seed's {@code new(shards)}: same as {@link #withShards}.
     *
     * @param keyType   key class
     * @param valueType value class
     * @param shards    shard count; 0 means {@value #DEFAULT_SHARDS}; clamped to {@value #MAX_SHARDS}
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     * @throws ShardCountException if {@code shards} is negative
     */
    public static <K, V> ShardedHashMap<K, V> create(Class<K> keyType, Class<V> valueType, int shards) {
        return withShards(keyType, valueType, shards);
    }

    /**
     * A map with a clamped shard count: 0 becomes {@value #DEFAULT_SHARDS}, counts above
     * {@value #MAX_SHARDS} become {@value #MAX_SHARDS} (logged at DEBUG).
     *
     * @param keyType   key class
     * @param valueType value class
     * @param shards    requested shard count
     * @param <K>       key type
     * @param <V>       value type
     * @return a new map
     * @throws ShardCountException if {@code shards} is negative
     */
    public static <K, V> ShardedHashMap<K, V> withShards(Class<K> keyType, Class<V> valueType, int shards) {
        return withShardsAndCap(keyType, valueType, shards, MAX_SHARDS);
    }

    /**
     * A map with a clamped shard count and a cap that also bounds later rebalances: the cap is
     * {@code max(cap, 1)} (at most {@value #MAX_SHARDS}); 0 shards means {@value #DEFAULT_SHARDS}; a count above
     * the cap becomes the cap (logged at DEBUG).
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
    public static <K, V> ShardedHashMap<K, V> withShardsAndCap(Class<K> keyType, Class<V> valueType, int shards,
                                                               int cap) {
        final int effectiveCap = effectiveCap(cap);
        final int requested = requestedShards(shards, effectiveCap);
        final int clamped = Math.min(requested, effectiveCap);
        if (clamped != requested) {
            LOG.log(System.Logger.Level.DEBUG, "shard count {0} clamped to the cap {1}", requested, effectiveCap);
        }
        return builder(keyType, valueType).maxShards(effectiveCap).shards(clamped).build();
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
    public static <K, V> ShardedHashMap<K, V> tryWithShards(Class<K> keyType, Class<V> valueType, int shards) {
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
    public static <K, V> ShardedHashMap<K, V> tryWithShardsAndCap(Class<K> keyType, Class<V> valueType, int shards,
                                                                  int cap) {
        final int effectiveCap = effectiveCap(cap);
        final int requested = requestedShards(shards, effectiveCap);
        if (requested > effectiveCap) {
            throw new ShardCountException(requested, effectiveCap);
        }
        return builder(keyType, valueType).maxShards(effectiveCap).shards(requested).build();
    }

    private static int effectiveCap(int cap) {
        return Math.min(MAX_SHARDS, Math.max(cap, 1));
    }

    private static int requestedShards(int shards, int cap) {
        if (shards < 0) {
            throw new ShardCountException(shards, cap);
        }
        return shards == 0 ? DEFAULT_SHARDS : shards;
    }

    // =========================================================================================================
    // Reads
    // =========================================================================================================

    /**
     * Returns a decoded copy of the value of {@code key}, or null.
     *
     * @param key the key; a key of another type is simply absent
     * @return the value, or null if absent
     * @throws NullPointerException  if {@code key} is null
     * @throws IllegalStateException if the map is closed
     */
    @Override
    public V get(Object key) {
        return get(key, null);
    }

    /**
     * Like {@link #get(Object)}, but decodes into {@code reuse} when the value codec supports it, so that a hot
     * loop reads without allocating (the {@code getUsing} idea).
     *
     * @param key   the key
     * @param reuse an instance to overwrite, or null
     * @return {@code reuse} (or a new instance) holding the value, or null if absent
     * @throws NullPointerException  if {@code key} is null
     * @throws IllegalStateException if the map is closed
     */
    public V get(Object key, V reuse) {
        final K k = keyOrNull(key);
        final ThreadContext ctx = context();
        if (k == null) {
            checkOpen();
            return null;
        }
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeLookupKey(k, f);
            if (keyLength < 0) {
                checkOpen();
                return null;
            }
            final int valueLength = readValue(ctx, f, hashOf(f.key, keyLength), keyLength);
            return valueLength < 0 ? null : valueCodec.decode(f.read, 0, valueLength, reuse);
        } finally {
            ctx.pop();
        }
    }

    /**
     * Whether {@code key} has a value.
     *
     * @param key the key
     * @return true if present
     * @throws NullPointerException  if {@code key} is null
     * @throws IllegalStateException if the map is closed
     */
    @Override
    public boolean containsKey(Object key) {
        final K k = keyOrNull(key);
        final ThreadContext ctx = context();
        if (k == null) {
            checkOpen();
            return false;
        }
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeLookupKey(k, f);
            if (keyLength < 0) {
                checkOpen();
                return false;
            }
            return readValue(ctx, f, hashOf(f.key, keyLength), keyLength) >= 0;
        } finally {
            ctx.pop();
        }
    }

    /**
     * The seed's {@code contains}: same as {@link #containsKey}.
     *
     * @param key the key
     * @return true if present
     */
    public boolean contains(Object key) {
        return containsKey(key);
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
     * Reads the value bytes of a key into {@code f.read}: optimistic first, read lock if validation fails.
     *
     * @return the value length or {@link Segment#NOT_FOUND}
     */
    private int readValue(ThreadContext ctx, Frame f, long hash, int keyLength) {
        final Shard shard;
        final EpochDomain.Reader reader = ctx.reader;
        reader.enter();
        try {
            checkOpen();   // after enter(): either close() waits for this section, or we see closed here
            shard = shardAt(KeyHasher.shardIndex(hash, shardCount));
            if (shard == null) {
                return Segment.NOT_FOUND;
            }
            final long stamp = shard.tryOptimisticRead();
            if (stamp != 0) {
                final int result = shard.segment.get(hash, f.key, 0, keyLength, f.read, 0);
                if (result != Segment.RETRY && shard.validate(stamp)) {
                    return result;
                }
            }
        } catch (IllegalStateException e) {
            throw closedOr(e);
        } finally {
            reader.exit();
        }
        return readValueLocked(shard, f, hash, keyLength);
    }

    private int readValueLocked(Shard shard, Frame f, long hash, int keyLength) {
        final long stamp = shard.readLock();
        try {
            checkOpen();
            final int result = shard.segment.get(hash, f.key, 0, keyLength, f.read, 0);
            if (result == Segment.RETRY) {
                throw new IllegalStateException("segment memory is inconsistent under the read lock");
            }
            return result;
        } finally {
            shard.unlockRead(stamp);
        }
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
        checkLongToLong();
        final long hash = hasher.hashFixed(key);
        final ThreadContext ctx = context();
        final Shard shard;
        final EpochDomain.Reader reader = ctx.reader;
        reader.enter();
        try {
            checkOpen();
            shard = shardAt(KeyHasher.shardIndex(hash, shardCount));
            if (shard == null) {
                return missingValue;
            }
            final long stamp = shard.tryOptimisticRead();
            if (stamp != 0) {
                final long value = shard.segment.getLong(hash, missingValue);
                if (shard.validate(stamp)) {
                    return value;
                }
            }
        } catch (IllegalStateException e) {
            throw closedOr(e);
        } finally {
            reader.exit();
        }
        return getLongLocked(shard, hash, missingValue);
    }

    /** The read-lock fallback of the primitive reads, taken outside any read section (a writer may wait for it). */
    private long getLongLocked(Shard shard, long hash, long missingValue) {
        final long stamp = shard.readLock();
        try {
            checkOpen();
            return shard.segment.getLong(hash, missingValue);
        } finally {
            shard.unlockRead(stamp);
        }
    }

    /**
     * Most keys one batched read covers in one read section. A section delays the freeing of retired memory and
     * {@link #close()} until it ends, so a long batch is split: 64 keys take about 8 µs at 10M entries.
     */
    static final int KEYS_PER_READ_SECTION = 64;

    /**
     * Reads a batch of {@code long} keys of a {@code Long -> Long} map: {@code values[i] = getLong(keys[i],
     * missingValue)} for every {@code i} in {@code [offset, offset + length)}, without boxing or allocation.
     *
     * <p>Why a batch: every single read announces itself to the map's reclamation epochs with a full fence and
     * leaves with another store, and out of cache a single read costs more than its own misses (docs/benchmarks.md,
     * "Where the 10M time goes"). A batch announces once per {@value #KEYS_PER_READ_SECTION} keys, and the misses
     * of independent keys can overlap. At 10M entries, one thread, a key then costs 132 ns instead of 218 ns
     * through {@link #getLong} ({@code MapBenchmark.longBatchGet}). Each key is still read atomically (optimistic
     * read validated per shard, read lock as fallback); the batch as a whole is not a snapshot: a write that
     * lands during the batch may be seen by some keys and not by others.
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
        checkLongToLong();
        requireNonNull(keys, "keys");
        requireNonNull(values, "values");
        if (offset < 0 || length < 0 || offset > keys.length - length || offset > values.length - length) {
            throw new IndexOutOfBoundsException("offset " + offset + " and length " + length
                + " must lie inside keys (length " + keys.length + ") and values (length " + values.length + ")");
        }
        final EpochDomain.Reader reader = context().reader;
        final int end = offset + length;
        int i = offset;
        while (i < end) {
            // not min(end, i + 64): near the largest arrays that sum would overflow and the loop never end
            final int sectionEnd = end - i > KEYS_PER_READ_SECTION ? i + KEYS_PER_READ_SECTION : end;
            Shard contended = null;
            long contendedHash = 0;
            reader.enter();
            try {
                checkOpen();
                for (; i < sectionEnd; i++) {
                    final long hash = hasher.hashFixed(keys[i]);
                    final Shard shard = shardAt(KeyHasher.shardIndex(hash, shardCount));
                    if (shard == null) {
                        values[i] = missingValue;
                        continue;
                    }
                    final long stamp = shard.tryOptimisticRead();
                    if (stamp != 0) {
                        final long value = shard.segment.getLong(hash, missingValue);
                        if (shard.validate(stamp)) {
                            values[i] = value;
                            continue;
                        }
                    }
                    contended = shard;   // a writer holds or held this shard: read key i under its lock
                    contendedHash = hash;
                    break;
                }
            } catch (IllegalStateException e) {
                throw closedOr(e);
            } finally {
                reader.exit();
            }
            if (contended != null) {
                values[i] = getLongLocked(contended, contendedHash, missingValue);
                i++;
            }
        }
    }

    /**
     * Whether a {@code long} key is present in a {@code Long -> Long} map.
     *
     * @param key the key
     * @return true if present
     */
    public boolean containsLong(long key) {
        checkLongToLong();
        final long hash = hasher.hashFixed(key);
        context();
        final Shard shard = shardForRead(hash);
        if (shard == null) {
            checkOpen();
            return false;
        }
        final long stamp = shard.readLock();
        try {
            checkOpen();
            return shard.segment.find(hash, null, 0, 0) >= 0;
        } finally {
            shard.unlockRead(stamp);
        }
    }

    /**
     * Puts a {@code long} value for a {@code long} key of a {@code Long -> Long} map, without boxing.
     *
     * @param key          the key
     * @param value        the value
     * @param missingValue returned when the key was absent
     * @return the previous value, or {@code missingValue}
     */
    public long putLong(long key, long value, long missingValue) {
        checkLongToLong();
        final long hash = hasher.hashFixed(key);
        context();
        final Shard shard = shardForWrite(hash);
        final long stamp = shard.writeLock();
        try {
            checkOpen();
            final Segment segment = shard.segment;
            final int slot = segment.find(hash, null, 0, 0);
            if (slot >= 0) {
                final long previous = segment.readValueLong(slot);
                segment.replaceValueLong(slot, value);
                return previous;
            }
            segment.insertLong(hash, value);
            size.increment();
            return missingValue;
        } finally {
            shard.unlockWrite(stamp);
        }
    }

    /**
     * Atomically adds {@code delta} to the value of a {@code long} key (absent counts as 0), without boxing.
     *
     * @param key   the key
     * @param delta the amount to add
     * @return the new value
     */
    public long addAndGetLong(long key, long delta) {
        checkLongToLong();
        final long hash = hasher.hashFixed(key);
        context();
        final Shard shard = shardForWrite(hash);
        final long stamp = shard.writeLock();
        try {
            checkOpen();
            final Segment segment = shard.segment;
            final int slot = segment.find(hash, null, 0, 0);
            if (slot >= 0) {
                final long updated = segment.readValueLong(slot) + delta;
                segment.replaceValueLong(slot, updated);
                return updated;
            }
            segment.insertLong(hash, delta);
            size.increment();
            return delta;
        } finally {
            shard.unlockWrite(stamp);
        }
    }

    /**
     * Removes a {@code long} key of a {@code Long -> Long} map, without boxing.
     *
     * @param key          the key
     * @param missingValue returned when the key was absent
     * @return the removed value, or {@code missingValue}
     */
    public long removeLong(long key, long missingValue) {
        checkLongToLong();
        final long hash = hasher.hashFixed(key);
        context();
        final Shard shard = shardForRead(hash);
        if (shard == null) {
            checkOpen();
            return missingValue;
        }
        final long stamp = shard.writeLock();
        try {
            checkOpen();
            final Segment segment = shard.segment;
            final int slot = segment.find(hash, null, 0, 0);
            if (slot < 0) {
                return missingValue;
            }
            final long previous = segment.readValueLong(slot);
            segment.removeAt(slot);
            size.decrement();
            return previous;
        } finally {
            shard.unlockWrite(stamp);
        }
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
     * @throws NullPointerException            if key or value is null
     * @throws EntryTooLargeException          if the encoded entry exceeds the maximum entry size
     * @throws io.starshard.codec.CodecException if a codec fails (the map is unchanged)
     * @throws io.starshard.offheap.OffHeapMemoryExhaustedException if the memory budget is reached (unchanged)
     * @throws IllegalStateException           if the map is closed
     */
    @Override
    public V put(K key, V value) {
        return write(key, value, true);
    }

    /**
     * Associates {@code value} with {@code key} like {@link #put}, but does not decode the previous value:
     * the write path of a hot loop, allocation-free for the built-in codecs.
     *
     * @param key   the key
     * @param value the value
     * @return true if the key was absent (an entry was added), false if its value was replaced
     * @throws NullPointerException            if key or value is null
     * @throws EntryTooLargeException          if the encoded entry exceeds the maximum entry size
     * @throws io.starshard.codec.CodecException if a codec fails (the map is unchanged)
     * @throws io.starshard.offheap.OffHeapMemoryExhaustedException if the memory budget is reached (unchanged)
     * @throws IllegalStateException           if the map is closed
     */
    public boolean set(K key, V value) {
        write(key, value, false);
        return ThreadContext.current().lastWriteAdded;
    }

    /**
     * Put with or without the previous value; when {@code wantPrevious} is false returns null and records in
     * the thread's context whether the key was new.
     */
    private V write(K key, V value, boolean wantPrevious) {
        requireNonNull(key, "key");
        requireNonNull(value, "value");
        final ThreadContext ctx = context();
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeKey(key, f);
            final long hash = hashOf(f.key, keyLength);
            final int valueLength = encodeValue(value, f, keyLength);
            final Shard shard = shardForWrite(hash);
            final int previousLength;
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final Segment segment = shard.segment;
                final int slot = segment.find(hash, f.key, 0, keyLength);
                if (slot >= 0) {
                    previousLength = wantPrevious ? segment.readValue(slot, f.read, 0) : 0;
                    segment.replaceValue(slot, f.value, 0, valueLength);
                } else {
                    previousLength = -1;
                    segment.insert(hash, f.key, 0, keyLength, f.value, 0, valueLength);
                    size.increment();
                }
            } finally {
                shard.unlockWrite(stamp);
            }
            ctx.lastWriteAdded = previousLength < 0;
            return previousLength < 0 || !wantPrevious ? null : valueCodec.decode(f.read, 0, previousLength);
        } finally {
            ctx.pop();
        }
    }

    /**
     * The seed's {@code insert}: same as {@link #put}.
     *
     * @param key   the key
     * @param value the value
     * @return the previous value, or null
     */
    public V insert(K key, V value) {
        return put(key, value);
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
        requireNonNull(key, "key");
        requireNonNull(value, "value");
        final ThreadContext ctx = context();
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeKey(key, f);
            final long hash = hashOf(f.key, keyLength);
            final int valueLength = encodeValue(value, f, keyLength);
            final Shard shard = shardForWrite(hash);
            final int existingLength;
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final Segment segment = shard.segment;
                final int slot = segment.find(hash, f.key, 0, keyLength);
                if (slot >= 0) {
                    existingLength = segment.readValue(slot, f.read, 0);
                } else {
                    existingLength = -1;
                    segment.insert(hash, f.key, 0, keyLength, f.value, 0, valueLength);
                    size.increment();
                }
            } finally {
                shard.unlockWrite(stamp);
            }
            return existingLength < 0 ? null : valueCodec.decode(f.read, 0, existingLength);
        } finally {
            ctx.pop();
        }
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
        requireNonNull(key, "key");
        requireNonNull(value, "value");
        final ThreadContext ctx = context();
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeLookupKey(key, f);
            if (keyLength < 0) {
                checkOpen();
                return null;
            }
            final long hash = hashOf(f.key, keyLength);
            final int valueLength = encodeValue(value, f, keyLength);
            final Shard shard = shardForRead(hash);
            if (shard == null) {
                checkOpen();
                return null;
            }
            final int previousLength;
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final Segment segment = shard.segment;
                final int slot = segment.find(hash, f.key, 0, keyLength);
                if (slot < 0) {
                    return null;
                }
                previousLength = segment.readValue(slot, f.read, 0);
                segment.replaceValue(slot, f.value, 0, valueLength);
            } finally {
                shard.unlockWrite(stamp);
            }
            return valueCodec.decode(f.read, 0, previousLength);
        } finally {
            ctx.pop();
        }
    }

    /**
     * Replaces the value of {@code key} only if it currently equals {@code oldValue}.
     *
     * @param key      the key
     * @param oldValue the expected value (compared with {@code equals} to the decoded current value, arrays by
     *                 content)
     * @param newValue the new value
     * @return true if replaced
     */
    @Override
    public boolean replace(K key, V oldValue, V newValue) {
        requireNonNull(key, "key");
        requireNonNull(oldValue, "oldValue");
        requireNonNull(newValue, "newValue");
        final ThreadContext ctx = context();
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeLookupKey(key, f);
            if (keyLength < 0) {
                checkOpen();
                return false;
            }
            final long hash = hashOf(f.key, keyLength);
            final int valueLength = encodeValue(newValue, f, keyLength);
            final Shard shard = shardForRead(hash);
            if (shard == null) {
                checkOpen();
                return false;
            }
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final Segment segment = shard.segment;
                final int slot = segment.find(hash, f.key, 0, keyLength);
                if (slot < 0 || !valueEquals(oldValue, decodeSlotValue(segment, slot, f))) {
                    return false;
                }
                segment.replaceValue(slot, f.value, 0, valueLength);
                return true;
            } finally {
                shard.unlockWrite(stamp);
            }
        } finally {
            ctx.pop();
        }
    }

    /**
     * Removes the value of {@code key}.
     *
     * @param key the key
     * @return the removed value, or null if absent
     */
    @Override
    public V remove(Object key) {
        final K k = keyOrNull(key);
        final ThreadContext ctx = context();
        if (k == null) {
            checkOpen();
            return null;
        }
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeLookupKey(k, f);
            final long hash = keyLength < 0 ? 0 : hashOf(f.key, keyLength);
            final Shard shard = keyLength < 0 ? null : shardForRead(hash);
            if (shard == null) {
                checkOpen();
                return null;
            }
            final int previousLength;
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final Segment segment = shard.segment;
                final int slot = segment.find(hash, f.key, 0, keyLength);
                if (slot < 0) {
                    return null;
                }
                previousLength = segment.readValue(slot, f.read, 0);
                segment.removeAt(slot);
                size.decrement();
            } finally {
                shard.unlockWrite(stamp);
            }
            return valueCodec.decode(f.read, 0, previousLength);
        } finally {
            ctx.pop();
        }
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
        final K k = keyOrNull(key);
        requireNonNull(value, "value");
        final ThreadContext ctx = context();
        if (k == null || !valueType.isInstance(value)) {
            checkOpen();
            return false;
        }
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeLookupKey(k, f);
            final long hash = keyLength < 0 ? 0 : hashOf(f.key, keyLength);
            final Shard shard = keyLength < 0 ? null : shardForRead(hash);
            if (shard == null) {
                checkOpen();
                return false;
            }
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final Segment segment = shard.segment;
                final int slot = segment.find(hash, f.key, 0, keyLength);
                if (slot < 0 || !valueEquals(value, decodeSlotValue(segment, slot, f))) {
                    return false;
                }
                segment.removeAt(slot);
                size.decrement();
                return true;
            } finally {
                shard.unlockWrite(stamp);
            }
        } finally {
            ctx.pop();
        }
    }

    // =========================================================================================================
    // Functional updates: the function runs under the shard's write lock, at most once
    // =========================================================================================================

    /**
     * Computes a value for an absent key. An existing value is returned without locking.
     *
     * @param key             the key
     * @param mappingFunction computes the value; returning null inserts nothing
     * @return the existing or the inserted value, or null
     */
    @Override
    public V computeIfAbsent(K key, Function<? super K, ? extends V> mappingFunction) {
        requireNonNull(key, "key");
        requireNonNull(mappingFunction, "mappingFunction");
        final ThreadContext ctx = context();
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeKey(key, f);
            final long hash = hashOf(f.key, keyLength);
            final int existing = readValue(ctx, f, hash, keyLength);
            if (existing >= 0) {
                return valueCodec.decode(f.read, 0, existing);
            }
            final Shard shard = shardForWrite(hash);
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final Segment segment = shard.segment;
                final int slot = segment.find(hash, f.key, 0, keyLength);
                if (slot >= 0) {
                    return decodeSlotValue(segment, slot, f);
                }
                final V value = callUnderLock(ctx, mappingFunction, key);
                if (value == null) {
                    return null;
                }
                final int valueLength = encodeValue(value, f, keyLength);
                segment.insert(hash, f.key, 0, keyLength, f.value, 0, valueLength);
                size.increment();
                return value;
            } finally {
                shard.unlockWrite(stamp);
            }
        } finally {
            ctx.pop();
        }
    }

    /**
     * Computes a new value for a present key; a null result removes it (the seed's {@code compute_if_present}).
     *
     * @param key               the key
     * @param remappingFunction computes the new value from the current one
     * @return the new value, or null if absent or removed
     */
    @Override
    public V computeIfPresent(K key, BiFunction<? super K, ? super V, ? extends V> remappingFunction) {
        requireNonNull(key, "key");
        requireNonNull(remappingFunction, "remappingFunction");
        return update(key, remappingFunction, null, null, UpdateKind.IF_PRESENT);
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
        requireNonNull(remappingFunction, "remappingFunction");
        return update(key, remappingFunction, null, null, UpdateKind.COMPUTE);
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
        requireNonNull(remappingFunction, "remappingFunction");
        return update(key, null, value, remappingFunction, UpdateKind.MERGE);
    }

    private enum UpdateKind { IF_PRESENT, COMPUTE, MERGE }

    /** The shared body of compute, computeIfPresent and merge. */
    private V update(K key, BiFunction<? super K, ? super V, ? extends V> compute, V mergeValue,
                     BiFunction<? super V, ? super V, ? extends V> merge, UpdateKind kind) {
        final ThreadContext ctx = context();
        final Frame f = ctx.push();
        try {
            final int keyLength = kind == UpdateKind.IF_PRESENT ? encodeLookupKey(key, f) : encodeKey(key, f);
            if (keyLength < 0) {
                checkOpen();
                return null;
            }
            final long hash = hashOf(f.key, keyLength);
            final Shard shard = kind == UpdateKind.IF_PRESENT ? shardForRead(hash) : shardForWrite(hash);
            if (shard == null) {
                checkOpen();
                return null;
            }
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final Segment segment = shard.segment;
                final int slot = segment.find(hash, f.key, 0, keyLength);
                if (slot < 0 && kind == UpdateKind.IF_PRESENT) {
                    return null;
                }
                final V current = slot >= 0 ? decodeSlotValue(segment, slot, f) : null;
                final V updated;
                if (kind == UpdateKind.MERGE) {
                    updated = current == null ? mergeValue : callUnderLock(ctx, merge, current, mergeValue);
                } else {
                    updated = callUnderLock(ctx, compute, key, current);
                }
                if (updated == null) {
                    if (slot >= 0) {
                        segment.removeAt(slot);
                        size.decrement();
                    }
                    return null;
                }
                final int valueLength = encodeValue(updated, f, keyLength);
                if (slot >= 0) {
                    segment.replaceValue(slot, f.value, 0, valueLength);
                } else {
                    segment.insert(hash, f.key, 0, keyLength, f.value, 0, valueLength);
                    size.increment();
                }
                return updated;
            } finally {
                shard.unlockWrite(stamp);
            }
        } finally {
            ctx.pop();
        }
    }

    private <A, R> R callUnderLock(ThreadContext ctx, Function<? super A, ? extends R> function, A argument) {
        ctx.enterLocked(this);
        try {
            return function.apply(argument);
        } finally {
            ctx.exitLocked();
        }
    }

    private <A, B, R> R callUnderLock(ThreadContext ctx, BiFunction<? super A, ? super B, ? extends R> function,
                                      A first, B second) {
        ctx.enterLocked(this);
        try {
            return function.apply(first, second);
        } finally {
            ctx.exitLocked();
        }
    }

    // =========================================================================================================
    // Bulk operations
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
        writeAll("putAll", m.entrySet(), m.size());
    }

    /**
     * The seed's {@code batch_insert}: puts every entry in order; a key repeated later in the input wins.
     *
     * @param entries the entries
     * @return how many keys were new
     * @throws NullPointerException  if the collection, an entry, a key or a value is null (nothing is written)
     * @throws BatchWriteException   if an entry fails (budget, size, codec, a concurrent close): says how many
     *                               were written; its cause is the entry's failure
     * @throws IllegalStateException if the map is closed
     */
    public int batchInsert(Collection<? extends Map.Entry<? extends K, ? extends V>> entries) {
        requireNonNull(entries, "entries");
        return writeAll("batchInsert", entries, entries.size());
    }

    /**
     * {@link #batchInsert(Collection)} for a map's mappings.
     *
     * @param entries the mappings
     * @return how many keys were new
     */
    public int batchInsert(Map<? extends K, ? extends V> entries) {
        requireNonNull(entries, "entries");
        return writeAll("batchInsert", entries.entrySet(), entries.size());
    }

    /**
     * Writes entries one by one. Nulls are refused up front (nothing written), so the only exception that can
     * escape once writing has started is a {@link BatchWriteException} saying how many were applied.
     */
    private int writeAll(String operation, Iterable<? extends Map.Entry<? extends K, ? extends V>> entries,
                         int total) {
        context();
        checkOpen();
        int position = 0;
        for (Map.Entry<? extends K, ? extends V> entry : entries) {
            if (entry == null || entry.getKey() == null || entry.getValue() == null) {
                throw new NullPointerException(operation + ": input entry #" + position + " has a null "
                    + (entry == null ? "entry" : entry.getKey() == null ? "key" : "value")
                    + "; nothing was written");
            }
            position++;
        }
        int index = 0;
        int added = 0;
        for (Map.Entry<? extends K, ? extends V> entry : entries) {
            try {
                final K key = requireNonNull(entry.getKey(), "key");
                final V value = requireNonNull(entry.getValue(), "value");
                if (putReportingNew(key, value)) {
                    added++;
                }
            } catch (RuntimeException e) {
                // Includes IllegalStateException (closed meanwhile) and NullPointerException (an input that
                // changed under us, a codec's own bug): the caller must still learn how much was applied.
                throw new BatchWriteException(operation, index, index, total, e);
            }
            index++;
        }
        return added;
    }

    private boolean putReportingNew(K key, V value) {
        final ThreadContext ctx = context();
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeKey(key, f);
            final long hash = hashOf(f.key, keyLength);
            final int valueLength = encodeValue(value, f, keyLength);
            final Shard shard = shardForWrite(hash);
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final Segment segment = shard.segment;
                final int slot = segment.find(hash, f.key, 0, keyLength);
                if (slot >= 0) {
                    segment.replaceValue(slot, f.value, 0, valueLength);
                    return false;
                }
                segment.insert(hash, f.key, 0, keyLength, f.value, 0, valueLength);
                size.increment();
                return true;
            } finally {
                shard.unlockWrite(stamp);
            }
        } finally {
            ctx.pop();
        }
    }

    /**
     * The seed's {@code batch_get}: values in input order, null where absent.
     *
     * @param keys the keys
     * @return a new list with one element per key
     */
    public List<V> batchGet(Collection<? extends K> keys) {
        requireNonNull(keys, "keys");
        context();
        checkOpen();
        requireNoNullKey("batchGet", keys);
        final List<V> values = new ArrayList<>(keys.size());
        for (K key : keys) {
            values.add(get(requireNonNull(key, "key")));
        }
        return values;
    }

    /**
     * The seed's {@code batch_remove}.
     *
     * @param keys the keys
     * @return how many were present and removed
     * @throws NullPointerException if {@code keys} or one of them is null (checked first: nothing is removed)
     */
    public int batchRemove(Collection<? extends K> keys) {
        requireNonNull(keys, "keys");
        context();
        checkOpen();
        requireNoNullKey("batchRemove", keys);
        int removed = 0;
        for (K key : keys) {
            if (removeKey(requireNonNull(key, "key"))) {
                removed++;
            }
        }
        return removed;
    }

    /** Refuses a null key before anything is read or removed, so that an NPE means "nothing was done". */
    private static void requireNoNullKey(String operation, Collection<?> keys) {
        int position = 0;
        for (Object key : keys) {
            if (key == null) {
                throw new NullPointerException(operation + ": input key #" + position + " is null; nothing was done");
            }
            position++;
        }
    }

    private boolean removeKey(K key) {
        final ThreadContext ctx = context();
        final Frame f = ctx.push();
        try {
            final int keyLength = encodeLookupKey(key, f);
            final long hash = keyLength < 0 ? 0 : hashOf(f.key, keyLength);
            final Shard shard = keyLength < 0 ? null : shardForRead(hash);
            if (shard == null) {
                checkOpen();
                return false;
            }
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final int slot = shard.segment.find(hash, f.key, 0, keyLength);
                if (slot < 0) {
                    return false;
                }
                shard.segment.removeAt(slot);
                size.decrement();
                return true;
            } finally {
                shard.unlockWrite(stamp);
            }
        } finally {
            ctx.pop();
        }
    }

    /**
     * The seed's {@code retain}: keeps the entries for which {@code keep} holds and removes the others. Each
     * shard is processed atomically under its write lock; the predicate must not use this map.
     *
     * @param keep the predicate
     * @return how many entries were removed
     */
    public int retain(BiPredicate<? super K, ? super V> keep) {
        requireNonNull(keep, "keep");
        final ThreadContext ctx = context();
        checkOpen();   // also when no shard exists yet
        int removed = 0;
        for (int i = 0; i < shardCount; i++) {
            final Shard shard = shardAt(i);
            if (shard == null) {
                continue;
            }
            final Frame f = ctx.push();
            final long stamp = shard.writeLock();
            ctx.enterLocked(this);
            try {
                checkOpen();
                final Segment segment = shard.segment;
                for (int slot = segment.nextFull(0); slot >= 0; slot = segment.nextFull(slot + 1)) {
                    final int keyLength = segment.readKey(slot, f.key, 0);
                    final K key = keyCodec.decode(f.key, 0, keyLength);
                    final V value = decodeSlotValue(segment, slot, f);
                    if (!keep.test(key, value)) {
                        segment.removeAt(slot);
                        size.decrement();
                        removed++;
                    }
                }
            } finally {
                ctx.exitLocked();
                shard.unlockWrite(stamp);
                ctx.pop();
            }
        }
        return removed;
    }

    /**
     * Removes every entry, shard by shard.
     */
    @Override
    public void clear() {
        context();
        checkOpen();
        for (int i = 0; i < shardCount; i++) {
            final Shard shard = shardAt(i);
            if (shard == null) {
                continue;
            }
            final long stamp = shard.writeLock();
            try {
                checkOpen();
                final int removed = shard.segment.size();
                shard.segment.clear();
                size.add(-removed);
            } finally {
                shard.unlockWrite(stamp);
            }
        }
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
        final ShardSnapshotIterator<K, V, Map.Entry<K, V>> it =
            new ShardSnapshotIterator<>(this, ShardSnapshotIterator.ENTRIES);
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
        context();
        checkOpen();
        return Math.max(0L, size.sum());
    }

    /**
     * The seed's {@code len}: same as {@link #mappingCount()}.
     *
     * @return the entry count
     */
    public long len() {
        return mappingCount();
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
     * Whether some key maps to a value equal to {@code value} (a full scan; arrays compare by content).
     *
     * @param value the value
     * @return true if found
     */
    @Override
    public boolean containsValue(Object value) {
        requireNonNull(value, "value");
        final Iterator<V> it = new ShardSnapshotIterator<>(this, ShardSnapshotIterator.VALUES);
        while (it.hasNext()) {
            if (valueEquals(value, it.next())) {
                return true;
            }
        }
        return false;
    }

    /**
     * A live view of the keys: removal goes through to the map, iteration is per-shard consistent.
     *
     * @return the key set view
     */
    @Override
    public Set<K> keySet() {
        final Set<K> view = keySetView;
        return view != null ? view : (keySetView = new KeySetView<>(this));
    }

    /**
     * A live view of the values: removal goes through to the map, iteration is per-shard consistent.
     *
     * @return the values view
     */
    @Override
    public Collection<V> values() {
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
        final Set<Map.Entry<K, V>> view = entrySetView;
        return view != null ? view : (entrySetView = new EntrySetView<>(this));
    }

    /**
     * The seed's {@code keys}: a snapshot list of the keys.
     *
     * @return a new list
     */
    public List<K> keys() {
        final List<K> keys = new ArrayList<>();
        new ShardSnapshotIterator<K, V, K>(this, ShardSnapshotIterator.KEYS).forEachRemaining(keys::add);
        return keys;
    }

    /**
     * The seed's {@code iter}: iterates over entries shard by shard; {@code remove} removes the key.
     *
     * @return an iterator
     */
    public Iterator<Map.Entry<K, V>> iter() {
        return new ShardSnapshotIterator<>(this, ShardSnapshotIterator.ENTRIES);
    }

    /**
     * Compares with another map by the {@link Map#equals} contract.
     *
     * @param o another object
     * @return true if {@code o} is a map with the same mappings
     */
    @Override
    public boolean equals(Object o) {
        if (o == this) {
            return true;
        }
        context();
        checkOpen();
        if (!(o instanceof Map)) {
            return false;
        }
        final Map<?, ?> other = (Map<?, ?>) o;
        if (other.size() != size()) {
            return false;
        }
        try {
            final Iterator<Map.Entry<K, V>> it = iter();
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
     * Sum of {@code key.hashCode() ^ value.hashCode()} over the entries, per the {@link Map#hashCode} contract.
     *
     * @return the hash code
     */
    @Override
    public int hashCode() {
        int h = 0;
        final Iterator<Map.Entry<K, V>> it = iter();
        while (it.hasNext()) {
            final Map.Entry<K, V> entry = it.next();
            h += elementHash(entry.getKey()) ^ elementHash(entry.getValue());
        }
        return h;
    }

    /**
     * {@code {k1=v1, k2=v2}} like other maps; "ShardedHashMap{closed}" once closed.
     *
     * @return the string form
     */
    @Override
    public String toString() {
        if (closed) {
            return "ShardedHashMap{closed}";
        }
        final StringBuilder sb = new StringBuilder("{");
        final Iterator<Map.Entry<K, V>> it = iter();
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
    // Shards, stats, lifecycle
    // =========================================================================================================

    /**
     * Number of shards keys are routed to.
     *
     * @return the shard count
     */
    public int shardCount() {
        checkOpen();
        return shardCount;
    }

    /**
     * The largest shard count this map may have (the cap given at construction).
     *
     * @return the cap
     */
    public int maxShards() {
        return maxShards;
    }

    /**
     * Shards whose storage exists: shards are created by their first write, never by reads.
     *
     * @return the number of initialized shards
     */
    public int initializedShards() {
        checkOpen();
        int n = 0;
        for (int i = 0; i < shardCount; i++) {
            if (shardAt(i) != null) {
                n++;
            }
        }
        return n;
    }

    /**
     * Entries per shard, in shard order (0 for uninitialized shards).
     *
     * @return a new array of {@link #shardCount()} loads
     */
    public long[] perShardLoad() {
        context();
        checkOpen();
        final long[] loads = new long[shardCount];
        for (int i = 0; i < shardCount; i++) {
            final Shard shard = shardAt(i);
            if (shard != null) {
                final long stamp = shard.readLock();
                try {
                    checkOpen();
                    loads[i] = shard.segment.size();
                } finally {
                    shard.unlockRead(stamp);
                }
            }
        }
        return loads;
    }

    /**
     * The seed's {@code shard_stats}.
     *
     * @return the spread of entries over shards
     */
    public ShardStats shardStats() {
        checkOpen();
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
        return new ShardStats(shardCount, initializedShards(), empty, (double) total / shardCount, max);
    }

    /**
     * Off-heap memory held by the map. Unlike the other methods it also answers after {@link #close()}, so a
     * caller can check that every byte came back: then {@code usedBytes} is 0 and there are no entries (while a
     * {@code close()} is still running, it may show the memory not yet freed).
     *
     * @return memory statistics
     */
    public MemoryStats memoryStats() {
        context();
        if (closed) {
            return new MemoryStats(memory.usedBytes(), memory.budgetBytes(), memory.peakBytes(), 0, 0, 0, 0);
        }
        long tableBytes = 0;
        long arenaBytes = 0;
        long liveEntryBytes = 0;
        long entries = 0;
        for (int i = 0; i < shardCount; i++) {
            final Shard shard = shardAt(i);
            if (shard == null) {
                continue;
            }
            final long stamp = shard.readLock();
            try {
                checkOpen();
                final SegmentStats stats = shard.segment.stats();
                tableBytes += stats.tableBytes();
                arenaBytes += stats.arenaBytes();
                liveEntryBytes += stats.liveEntryBytes();
                entries += stats.entries();
            } finally {
                shard.unlockRead(stamp);
            }
        }
        return new MemoryStats(memory.usedBytes(), memory.budgetBytes(), memory.peakBytes(), tableBytes, arenaBytes,
            liveEntryBytes, entries);
    }

    /**
     * The snapshot mode chosen at build time.
     *
     * @return the mode
     */
    public SnapshotMode snapshotMode() {
        return snapshotMode;
    }

    /**
     * The limit on encoded key plus value bytes of one entry.
     *
     * @return bytes
     */
    public int maxEntryBytes() {
        return maxEntryBytes;
    }

    /**
     * The seed of the key hash (recorded so that a persisted map can be reopened).
     *
     * @return the seed
     */
    public long hashSeed() {
        return hasher.seed();
    }

    /**
     * Whether {@link #close()} has been called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed;
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
        if (ThreadContext.current().holdsLockOf(this)) {
            throw new IllegalStateException("close() called from a function running under this map's lock");
        }
        // A concurrent second close() waits here until the first has freed everything: on return of every
        // close() the memory is freed, not only on return of the one that won the flag.
        synchronized (shards) {
            if (!CLOSED.compareAndSet(this, false, true)) {
                return;
            }
            for (int i = 0; i < shardCount; i++) {
                final Shard shard = shardAt(i);
                if (shard != null) {
                    releaseShard(shard);
                }
            }
            // Optimistic readers that entered before `closed` was set may still be reading; wait for them.
            epochs.synchronize();
        }
    }

    private static void releaseShard(Shard shard) {
        final long stamp = shard.writeLock();
        try {
            shard.segment.release();
        } finally {
            shard.unlockWrite(stamp);
        }
    }

    // =========================================================================================================
    // Internals
    // =========================================================================================================

    Shard shardAt(int index) {
        return (Shard) SHARDS.getAcquire(shards, index);
    }

    private Shard shardForRead(long hash) {
        return shardAt(KeyHasher.shardIndex(hash, shardCount));
    }

    private Shard shardForWrite(long hash) {
        final int index = KeyHasher.shardIndex(hash, shardCount);
        final Shard shard = shardAt(index);
        return shard != null ? shard : createShard(index);
    }

    private Shard createShard(int index) {
        checkOpen();
        final Shard fresh = new Shard(new Segment(spec, memory, epochs));
        final Shard witness = (Shard) SHARDS.compareAndExchange(shards, index, null, fresh);
        if (witness != null) {
            fresh.segment.close();   // lost the race; never published
            return witness;
        }
        if (closed) {
            // close() may have scanned this index before our CAS: release ourselves (idempotent if it did not).
            releaseShard(fresh);
            // ... and free it before the caller's call returns (with "map is closed"): close() did not wait for
            // this memory, and retire() alone frees it only if no reader of any map is in a section right now.
            epochs.synchronize();
        }
        return fresh;
    }

    int shardCountInternal() {
        return shardCount;
    }

    /**
     * Copies every entry of shard {@code index} as records into {@code out} under the shard's read lock.
     *
     * @return bytes written
     */
    int exportShard(int index, ExpandableArrayBuffer out) {
        checkUsable();
        final Shard shard = shardAt(index);
        if (shard == null) {
            return 0;
        }
        final long stamp = shard.readLock();
        try {
            checkOpen();
            final long result = shard.segment.exportRange(0, Integer.MAX_VALUE, out, 0, Integer.MAX_VALUE - 16);
            return Segment.exportBytes(result);
        } finally {
            shard.unlockRead(stamp);
        }
    }

    K decodeKey(DirectBuffer buffer, int offset, int length) {
        return keyCodec.decode(buffer, offset, length);
    }

    V decodeValue(DirectBuffer buffer, int offset, int length) {
        return valueCodec.decode(buffer, offset, length);
    }

    private V decodeSlotValue(Segment segment, int slot, Frame f) {
        final int length = segment.readValue(slot, f.read, 0);
        return valueCodec.decode(f.read, 0, length);
    }

    private int encodeKey(K key, Frame f) {
        try {
            return keyCodec.encode(key, f.key, 0, maxKeyBytes);
        } catch (EncodingTooLargeException e) {
            final long keyBytes = e.requiredBytes() == EncodingTooLargeException.UNKNOWN_LENGTH
                ? maxKeyBytes + 1L : e.requiredBytes();
            throw new EntryTooLargeException("key of " + describe(e) + " bytes exceeds the maximum key size of "
                + maxKeyBytes + " bytes (maximum entry size " + maxEntryBytes + ")", keyBytes, maxKeyBytes);
        } catch (RuntimeException e) {
            throw codecFailure("key", keyCodec, key, e);
        }
    }

    /**
     * Encodes a key for an operation that only acts on a present key: a key too long to be stored cannot be
     * present, so it is reported as absent rather than refused.
     *
     * @return the key length, or -1 if the key is longer than any stored key can be
     */
    private int encodeLookupKey(K key, Frame f) {
        try {
            return keyCodec.encode(key, f.key, 0, maxKeyBytes);
        } catch (EncodingTooLargeException e) {
            return -1;
        } catch (RuntimeException e) {
            throw codecFailure("key", keyCodec, key, e);
        }
    }

    private static CodecException codecFailure(String what, Codec<?> codec, Object input, RuntimeException e) {
        return new CodecException("the " + what + " codec " + codec + " failed to encode a "
            + input.getClass().getName() + " (" + e + "); the map is unchanged", e);
    }

    private int encodeValue(V value, Frame f, int keyLength) {
        final int limit = maxEntryBytes - keyLength;
        try {
            return valueCodec.encode(value, f.value, 0, limit);
        } catch (EncodingTooLargeException e) {
            final long valueBytes = e.requiredBytes() == EncodingTooLargeException.UNKNOWN_LENGTH
                ? limit + 1L : e.requiredBytes();
            throw new EntryTooLargeException("entry of " + (e.requiredBytes() == EncodingTooLargeException.UNKNOWN_LENGTH
                ? "more than " + (keyLength + (long) limit) : Long.toString(keyLength + valueBytes))
                + " bytes (key " + keyLength + " + value " + describe(e) + ") exceeds the maximum entry size of "
                + maxEntryBytes + " bytes (configure a larger maxEntryBytes or store smaller values)",
                keyLength + valueBytes, maxEntryBytes);
        } catch (RuntimeException e) {
            throw codecFailure("value", valueCodec, value, e);
        }
    }

    private static String describe(EncodingTooLargeException e) {
        return e.requiredBytes() == EncodingTooLargeException.UNKNOWN_LENGTH
            ? "more than " + e.limitBytes() : Long.toString(e.requiredBytes());
    }

    private long hashOf(DirectBuffer key, int keyLength) {
        return fixedKeyWidth != 0
            ? hasher.hashFixed(KeyHasher.fixedKeyBits(key, 0, fixedKeyWidth))
            : hasher.hash(key, 0, keyLength);
    }

    @SuppressWarnings("unchecked")
    private K keyOrNull(Object key) {
        requireNonNull(key, "key");
        return keyType.isInstance(key) ? (K) key : null;
    }

    /** The calling thread's context, after refusing re-entry from a function running under this map's lock. */
    private ThreadContext context() {
        final ThreadContext ctx = ThreadContext.current();
        if (ctx.holdsLockOf(this)) {
            throw new IllegalStateException("a compute/merge/retain function must not use the map it runs on"
                + " (it runs under the shard's lock; re-entering would deadlock)");
        }
        return ctx;
    }

    /** For package classes (iterators, views): refuses re-entry from a compute function, then a closed map. */
    void checkUsable() {
        context();
        checkOpen();
    }

    /**
     * Value equality used where the map compares a caller's value with a stored one ({@code remove(k, v)},
     * {@code replace(k, old, new)}, {@code containsValue}, the views' {@code contains}): {@code equals}, except
     * that arrays compare by content. A stored value is always a fresh decoded copy, so the identity equality of
     * arrays could never match.
     */
    static boolean valueEquals(Object expected, Object actual) {
        return Objects.deepEquals(expected, actual);
    }

    /** {@code hashCode}, except that arrays hash by content (an identity hash of a fresh copy is not stable). */
    static int elementHash(Object o) {
        return o.getClass().isArray() ? Arrays.deepHashCode(new Object[] {o}) - 31 : o.hashCode();
    }

    void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private static IllegalStateException closedException() {
        return new IllegalStateException("map is closed");
    }

    private RuntimeException closedOr(IllegalStateException e) {
        return closed ? closedException() : e;
    }

    private void checkLongToLong() {
        if (!longToLong) {
            throw new UnsupportedOperationException("primitive long methods need a Long -> Long map with the built-in"
                + " LongCodec for keys and values; this map has " + keyType.getSimpleName() + " -> "
                + valueType.getSimpleName());
        }
    }

    private static <T> T requireNonNull(T value, String name) {
        if (value == null) {
            throw new NullPointerException(name);
        }
        return value;
    }

    // =========================================================================================================
    // Builder
    // =========================================================================================================

    /**
     * Configures and builds a {@link ShardedHashMap}. Not thread-safe; {@link #build()} may be called repeatedly.
     *
     * @param <K> key type
     * @param <V> value type
     */
    public static final class Builder<K, V> {
        private final Class<K> keyType;
        private final Class<V> valueType;
        private int shards = DEFAULT_SHARDS;
        private int maxShards = MAX_SHARDS;
        private Codec<K> keyCodec;
        private Codec<V> valueCodec;
        private int maxEntryBytes = DEFAULT_MAX_ENTRY_BYTES;
        private long memoryBudget = OffHeapMemory.UNLIMITED;
        private Long hashSeed;
        private SnapshotMode snapshotMode = SnapshotMode.CLONE;
        private long expectedEntries;

        @SuppressWarnings("unchecked")
        private Builder(Class<K> keyType, Class<V> valueType) {
            this.keyType = (Class<K>) wrap(requireNonNull(keyType, "keyType"));
            this.valueType = (Class<V>) wrap(requireNonNull(valueType, "valueType"));
        }

        private static Class<?> wrap(Class<?> type) {
            if (!type.isPrimitive()) {
                return type;
            }
            if (type == long.class) {
                return Long.class;
            } else if (type == int.class) {
                return Integer.class;
            } else if (type == double.class) {
                return Double.class;
            }
            throw new IllegalArgumentException("primitive type " + type + " is not supported; use its wrapper class");
        }

        /**
         * Shard count, checked strictly at {@link #build()}: 0 means {@value #DEFAULT_SHARDS}; negative or above
         * {@link #maxShards(int)} throws {@link ShardCountException}.
         *
         * @param shards the shard count
         * @return this builder
         */
        public Builder<K, V> shards(int shards) {
            this.shards = shards;
            return this;
        }

        /**
         * The cap on the shard count, now and for later rebalances: {@code max(cap, 1)}, at most
         * {@value #MAX_SHARDS}.
         *
         * @param cap the cap
         * @return this builder
         */
        public Builder<K, V> maxShards(int cap) {
            if (cap > MAX_SHARDS) {
                throw new ShardCountException(cap, MAX_SHARDS);
            }
            this.maxShards = Math.max(cap, 1);
            return this;
        }

        /**
         * The key codec (default: the built-in codec of the key class, else Kryo).
         *
         * @param codec the codec
         * @return this builder
         */
        public Builder<K, V> keyCodec(Codec<K> codec) {
            this.keyCodec = requireNonNull(codec, "keyCodec");
            return this;
        }

        /**
         * The value codec (default: the built-in codec of the value class, else Kryo).
         *
         * @param codec the codec
         * @return this builder
         */
        public Builder<K, V> valueCodec(Codec<V> codec) {
            this.valueCodec = requireNonNull(codec, "valueCodec");
            return this;
        }

        /**
         * Limit on the encoded key plus value of one entry, 1 to 2^30 bytes.
         *
         * @param bytes the limit
         * @return this builder
         */
        public Builder<K, V> maxEntryBytes(int bytes) {
            if (bytes < 1 || bytes > SegmentSpec.MAX_ENTRY_BYTES_LIMIT) {
                throw new IllegalArgumentException("maxEntryBytes must be 1.." + SegmentSpec.MAX_ENTRY_BYTES_LIMIT
                    + ", was " + bytes);
            }
            this.maxEntryBytes = bytes;
            return this;
        }

        /**
         * Most off-heap bytes the map may hold; a write that would need more fails and changes nothing.
         *
         * @param bytes the budget, positive
         * @return this builder
         */
        public Builder<K, V> memoryBudget(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("memoryBudget must be positive, was " + bytes);
            }
            this.memoryBudget = bytes;
            return this;
        }

        /**
         * A fixed hash seed (default: random per map, which defends against hash flooding).
         *
         * @param seed the seed
         * @return this builder
         */
        public Builder<K, V> hashSeed(long seed) {
            this.hashSeed = seed;
            return this;
        }

        /**
         * The snapshot mode (recorded for the snapshot API of a later release).
         *
         * @param mode the mode
         * @return this builder
         */
        public Builder<K, V> snapshotMode(SnapshotMode mode) {
            this.snapshotMode = requireNonNull(mode, "snapshotMode");
            return this;
        }

        /**
         * Expected number of entries: each shard's table is sized on creation to hold its share without growing.
         *
         * @param entries expected entries, 0 for no presizing
         * @return this builder
         */
        public Builder<K, V> expectedEntries(long entries) {
            if (entries < 0) {
                throw new IllegalArgumentException("expectedEntries must be >= 0, was " + entries);
            }
            this.expectedEntries = entries;
            return this;
        }

        /**
         * Builds the map. Allocates no off-heap memory: shards are created by their first write.
         *
         * @return a new map
         * @throws ShardCountException if the shard count is negative or above the cap
         */
        public ShardedHashMap<K, V> build() {
            final int requested = requestedShards(shards, maxShards);
            if (requested > maxShards) {
                throw new ShardCountException(requested, maxShards);
            }
            if (keyCodec != null && wrap(keyCodec.type()) != keyType) {
                throw new IllegalArgumentException("key codec handles " + keyCodec.type().getName() + ", not "
                    + keyType.getName());
            }
            if (valueCodec != null && wrap(valueCodec.type()) != valueType) {
                throw new IllegalArgumentException("value codec handles " + valueCodec.type().getName() + ", not "
                    + valueType.getName());
            }
            return new ShardedHashMap<>(this, requested);
        }
    }
}
