package io.starshard;

import io.starshard.codec.Codec;
import io.starshard.codec.Codecs;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.SegmentSpec;

/**
 * Configures and builds a {@link ShardedHashMap}; obtained from {@link ShardedHashMap#builder}.
 *
 * <p>How to choose the settings:
 * <ul>
 *   <li>{@link #shards(int)}: enough that writers rarely meet on one shard (a few times the number of threads
 *       that write concurrently); the default {@value ShardedHashMap#DEFAULT_SHARDS} suits most services. More
 *       shards cost a little memory each, and only once they are written to.</li>
 *   <li>{@link #expectedEntries(long)}: the number of entries you expect; each shard's table is then allocated at
 *       its final size, so loading never pauses to grow a table and memory per entry is lowest.</li>
 *   <li>{@link #memoryBudget(long)}: the most off-heap memory the map may take; a write that would need more,
 *       even after compaction, fails with {@link io.starshard.offheap.OffHeapMemoryExhaustedException} and changes
 *       nothing.</li>
 * </ul>
 * Not thread-safe; {@link #build()} may be called repeatedly, each time for a new map.
 *
 * @param <K> key type
 * @param <V> value type
 */
public final class ShardedHashMapBuilder<K, V> {
    private final Class<K> keyType;
    private final Class<V> valueType;
    private int shards = ShardedHashMap.DEFAULT_SHARDS;
    private int maxShards = ShardedHashMap.MAX_SHARDS;
    private Codec<K> keyCodec;
    private Codec<V> valueCodec;
    private int maxEntryBytes = ShardedHashMap.DEFAULT_MAX_ENTRY_BYTES;
    private long memoryBudget = OffHeapMemory.UNLIMITED;
    private Long hashSeed;
    private long expectedEntries;
    private java.time.Duration compactionInterval;
    private long maxPauseNanos = SegmentSpec.DEFAULT_MAX_PAUSE_NANOS;
    private SnapshotMode snapshotMode = SnapshotMode.CLONE;
    private int retainVersions;
    private java.nio.file.Path persistedTo;
    private PersistenceListener reopenListener;
    private long checkpointAfterBytes = DEFAULT_CHECKPOINT_AFTER_BYTES;

    /** Journal bytes after which a persisted map checkpoints in the background, unless set otherwise. */
    public static final long DEFAULT_CHECKPOINT_AFTER_BYTES = 256L << 20;

    @SuppressWarnings("unchecked")
    ShardedHashMapBuilder(Class<? super K> keyType, Class<? super V> valueType) {
        this.keyType = (Class<K>) wrap(requireNonNull(keyType, "keyType"));
        this.valueType = (Class<V>) wrap(requireNonNull(valueType, "valueType"));
    }

    /**
     * Shard count, checked strictly at {@link #build()}: 0 means {@value ShardedHashMap#DEFAULT_SHARDS}; a negative
     * count or one above {@link #maxShards(int)} throws {@link ShardCountException}.
     *
     * @param shards the shard count
     * @return this builder
     */
    public ShardedHashMapBuilder<K, V> shards(int shards) {
        this.shards = shards;
        return this;
    }

    /**
     * The cap on the shard count: {@code max(cap, 1)}, at most {@value ShardedHashMap#MAX_SHARDS}.
     *
     * @param cap the cap
     * @return this builder
     * @throws ShardCountException if {@code cap} exceeds {@value ShardedHashMap#MAX_SHARDS}
     */
    public ShardedHashMapBuilder<K, V> maxShards(int cap) {
        if (cap > ShardedHashMap.MAX_SHARDS) {
            throw new ShardCountException(cap, ShardedHashMap.MAX_SHARDS);
        }
        this.maxShards = Math.max(cap, 1);
        return this;
    }

    /**
     * The key codec (default: the built-in codec of the key class, else a Kryo codec).
     *
     * @param codec the codec
     * @return this builder
     */
    public ShardedHashMapBuilder<K, V> keyCodec(Codec<K> codec) {
        this.keyCodec = requireNonNull(codec, "keyCodec");
        return this;
    }

    /**
     * The value codec (default: the built-in codec of the value class, else a Kryo codec). For a value type with
     * type parameters, e.g. {@code List<String>}, pass a codec of the raw class: it is accepted for any
     * parameterisation.
     *
     * @param codec the codec
     * @return this builder
     */
    @SuppressWarnings("unchecked")
    public ShardedHashMapBuilder<K, V> valueCodec(Codec<? super V> codec) {
        this.valueCodec = (Codec<V>) requireNonNull(codec, "valueCodec");
        return this;
    }

    /**
     * Limit on the encoded key plus value of one entry, 1 to 2^30 bytes (default 1 MiB). A write of a larger
     * entry, through any method, throws {@link io.starshard.offheap.EntryTooLargeException}.
     *
     * @param bytes the limit
     * @return this builder
     * @throws IllegalArgumentException if out of range
     */
    public ShardedHashMapBuilder<K, V> maxEntryBytes(int bytes) {
        if (bytes < 1 || bytes > SegmentSpec.MAX_ENTRY_BYTES_LIMIT) {
            throw new IllegalArgumentException("maxEntryBytes must be 1.." + SegmentSpec.MAX_ENTRY_BYTES_LIMIT
                + ", was " + bytes);
        }
        this.maxEntryBytes = bytes;
        return this;
    }

    /**
     * Most off-heap bytes the map may hold. Everything it allocates counts: each shard's table (control bytes and
     * slots, and while a table grows or shrinks, the old one and the one being prepared), the arena chunks that
     * hold keys and values of the indirect format (packed chunks, the chunk compaction copies into, a chunk of its
     * own for each entry above 16 KiB), and memory already replaced or emptied but not yet freed because an
     * optimistic reader may still be in it. The Java heap the map uses (a few objects per shard) does not count.
     *
     * <p>Ordinary allocations stop {@code min(256 KiB, budget / 64)} short of the budget: that reserve is for
     * compaction, which must copy entries before it can free their chunk, so that it can always make room. A write
     * the budget refuses first compacts its shard and then every shard, and is refused only if that did not make
     * room; then it throws {@link io.starshard.offheap.OffHeapMemoryExhaustedException}, whose message says how
     * much is live and how much was free, and changes nothing. How to size a budget: {@code docs/memory.md}.
     *
     * @param bytes the budget, positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     */
    public ShardedHashMapBuilder<K, V> memoryBudget(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("memoryBudget must be positive, was " + bytes);
        }
        this.memoryBudget = bytes;
        return this;
    }

    /**
     * The longest one step of memory maintenance may hold a shard's lock (default 1 ms, the same as
     * {@link RebalanceOptions#DEFAULT_MAX_PAUSE}): compaction and table shrinking work in steps that look at the
     * clock every few entries and stop once this time has passed, so a write that runs a step, or waits behind
     * one, waits about this long at most. Shorter pauses mean more, smaller steps: memory comes back as fast in
     * total, in more pieces.
     *
     * @param pause 1 µs .. 1 s
     * @return this builder
     * @throws IllegalArgumentException if {@code pause} is out of range
     */
    public ShardedHashMapBuilder<K, V> maxPause(java.time.Duration pause) {
        requireNonNull(pause, "maxPause");
        if (pause.compareTo(java.time.Duration.ofNanos(1_000)) < 0 || pause.compareTo(java.time.Duration.ofSeconds(1)) > 0) {
            throw new IllegalArgumentException("maxPause must be between 1 µs and 1 s, was " + pause);
        }
        this.maxPauseNanos = pause.toNanos();
        return this;
    }

    /**
     * Runs a daemon thread that finishes memory maintenance the writes left half done. Each write that leaves its
     * shard with chunks worth emptying, or a table much larger than its entries, already runs one bounded step
     * (see {@code docs/memory.md}); when writes stop, the rest waits until the next write or
     * {@link ShardedHashMap#compact()}. With this option a background thread visits the shards, takes each free
     * shard lock for one step (never waiting behind a writer), and sleeps {@code interval} after a round that
     * found nothing to do. Off by default: a map that is written to needs no thread.
     *
     * @param interval pause between two idle rounds, 1 ms .. 1 h
     * @return this builder
     * @throws IllegalArgumentException if {@code interval} is out of range
     */
    public ShardedHashMapBuilder<K, V> compactInBackground(java.time.Duration interval) {
        requireNonNull(interval, "interval");
        if (interval.compareTo(java.time.Duration.ofMillis(1)) < 0 || interval.compareTo(java.time.Duration.ofHours(1)) > 0) {
            throw new IllegalArgumentException("compactInBackground interval must be between 1 ms and 1 h, was "
                + interval);
        }
        this.compactionInterval = interval;
        return this;
    }

    /**
     * A fixed hash seed (default: random per map, which defends against hash flooding).
     *
     * @param seed the seed
     * @return this builder
     */
    public ShardedHashMapBuilder<K, V> hashSeed(long seed) {
        this.hashSeed = seed;
        return this;
    }

    /**
     * Expected number of entries: each shard's table is sized on creation to hold its share without growing.
     *
     * @param entries expected entries, 0 for no presizing
     * @return this builder
     * @throws IllegalArgumentException if negative
     */
    public ShardedHashMapBuilder<K, V> expectedEntries(long entries) {
        if (entries < 0) {
            throw new IllegalArgumentException("expectedEntries must be >= 0, was " + entries);
        }
        this.expectedEntries = entries;
        return this;
    }

    /**
     * How {@link ShardedHashMap#snapshot()} copies the map (default {@link SnapshotMode#CLONE}); see
     * {@link SnapshotMode} for what each mode costs and who pays it.
     *
     * @param mode the snapshot mode
     * @return this builder
     * @throws NullPointerException if {@code mode} is null
     */
    public ShardedHashMapBuilder<K, V> snapshotMode(SnapshotMode mode) {
        this.snapshotMode = requireNonNull(mode, "mode");
        return this;
    }

    /**
     * How many of the latest {@link ShardedHashMap#versionedSnapshot() versioned snapshots} the map retains, so
     * that {@link ShardedHashMap#snapshotAtVersion} returns their data (default 0: none). Each retained version
     * holds its copies off-heap until it is pushed out by a newer one or the map closes; with
     * {@link SnapshotMode#COW} a version costs only the shards written since it was taken.
     *
     * @param versions versions to retain, {@code 0..1024}
     * @return this builder
     * @throws IllegalArgumentException if out of range
     */
    public ShardedHashMapBuilder<K, V> retainVersions(int versions) {
        if (versions < 0 || versions > MAX_RETAINED_VERSIONS) {
            throw new IllegalArgumentException("retainVersions must be in [0, " + MAX_RETAINED_VERSIONS + "], was "
                + versions);
        }
        this.retainVersions = versions;
        return this;
    }

    /**
     * Makes the map persistent in {@code directory}: {@link #build()} opens the map stored there (or creates it),
     * and every write that returns is in a memory-mapped journal file, so it survives the process being killed.
     * The entries themselves stay off-heap in memory as in any map; the directory holds a checkpoint (a
     * {@link ShardedHashMap#save saved map}) and the journal of the writes since. Opening loads the checkpoint and
     * replays the journal; a checkpoint is taken in the background once the journal has grown by
     * {@link #checkpointAfter(long)} bytes, by {@link ShardedHashMap#checkpoint()}, and when the map is closed.
     * Growth, rebalances, compaction and snapshots work as in a map in memory. A power loss keeps only the writes
     * before the last {@link ShardedHashMap#sync()} or checkpoint. Needs Chronicle Bytes on the class path (see
     * {@code docs/persistence.md}).
     *
     * <p>One process at a time: opening a directory that another process (or another map of this JVM) has open is
     * refused with an {@link IllegalStateException}, and nothing is changed.
     *
     * @param directory the map's directory, created if absent
     * @return this builder
     */
    public ShardedHashMapBuilder<K, V> persistedTo(java.nio.file.Path directory) {
        this.persistedTo = requireNonNull(directory, "directory");
        this.reopenListener = null;
        return this;
    }

    /**
     * {@link #persistedTo(java.nio.file.Path)}, telling {@code listener} how far {@link #build()} has got loading
     * the checkpoint of a large map it reopens (after every block of entries).
     *
     * @param directory the map's directory, created if absent
     * @param listener  progress of the reopening
     * @return this builder
     */
    public ShardedHashMapBuilder<K, V> persistedTo(java.nio.file.Path directory, PersistenceListener listener) {
        this.persistedTo = requireNonNull(directory, "directory");
        this.reopenListener = requireNonNull(listener, "listener");
        return this;
    }

    /**
     * Journal bytes after which a {@link #persistedTo persisted} map takes a checkpoint in the background (default
     * 256 MiB): the bound on the journal a reopening replays, and on the disk it takes beside the checkpoint.
     *
     * @param journalBytes bytes, at least 1 MiB
     * @return this builder
     * @throws IllegalArgumentException if below 1 MiB
     */
    public ShardedHashMapBuilder<K, V> checkpointAfter(long journalBytes) {
        if (journalBytes < (1L << 20)) {
            throw new IllegalArgumentException("checkpointAfter must be at least 1 MiB (1048576 bytes), was "
                + journalBytes);
        }
        this.checkpointAfterBytes = journalBytes;
        return this;
    }

    /** The most versions a map may retain: each holds its copies, so the bound keeps a typo from filling memory. */
    static final int MAX_RETAINED_VERSIONS = 1024;

    /**
     * Builds the map. Allocates no off-heap memory: shards are created by their first write. A
     * {@link #persistedTo persisted} map is opened: its checkpoint loaded and its journal replayed.
     *
     * @return a new map; close it when done (try-with-resources)
     * @throws java.io.UncheckedIOException if a persisted map's files cannot be read or written; its cause is a
     *                                      {@link CorruptedFileException} if one of them does not check (then
     *                                      nothing was changed)
     * @throws ShardCountException      if the shard count is negative or above the cap
     * @throws IllegalArgumentException if a codec handles another type than the builder's
     * @throws IllegalStateException    if the JVM lacks the flag the off-heap access needs (the message says which
     *                                  and how to pass it)
     */
    public ShardedHashMap<K, V> build() {
        if (persistedTo != null) {
            try {
                return openPersisted();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot open the persisted map in " + persistedTo + ": "
                    + e.getMessage(), e);
            }
        }
        return buildInMemory();
    }

    /**
     * Builds the map ({@link #build()}) and returns it as an {@link AsyncShardedHashMap}; {@link
     * AsyncShardedHashMap#sync()} gives the synchronous map over the same storage.
     *
     * @return a new asynchronous map; close it when done
     */
    public AsyncShardedHashMap<K, V> buildAsync() {
        return build().async();
    }

    /**
     * {@link #buildAsync()} with contended operations run on {@code executor}.
     *
     * @param executor where operations that would wait run
     * @return a new asynchronous map; close it when done
     */
    public AsyncShardedHashMap<K, V> buildAsync(java.util.concurrent.Executor executor) {
        requireNonNull(executor, "executor");
        return build().async(executor);
    }

    private ShardedHashMap<K, V> buildInMemory() {
        final int requested = ShardedHashMap.requestedShards(shards, maxShards);
        if (requested > maxShards) {
            throw new ShardCountException(requested, maxShards);
        }
        final Codec<K> keys = keyCodec != null ? checkType("key", keyCodec, keyType) : Codecs.forClass(keyType);
        final Codec<V> values = valueCodec != null ? checkType("value", valueCodec, valueType)
            : Codecs.forClass(valueType);
        final KeyHasher hasher = hashSeed != null ? new KeyHasher(hashSeed) : KeyHasher.randomSeed();
        final ShardedHashMap<K, V> map = new ShardedHashMap<>(keyType, valueType, keys, values, hasher, requested,
            maxShards, maxEntryBytes, memoryBudget, expectedEntries, maxPauseNanos, snapshotMode, retainVersions);
        if (compactionInterval != null) {
            map.startBackgroundCompaction(compactionInterval);
        }
        return map;
    }

    /**
     * Builds the map and fills it from a file written by {@link ShardedHashMap#save}: with this builder's shard
     * count (any count: entries are routed by their stored hashes), codecs (they must be the ones the file was
     * saved with) and settings, and the file's hash seed. Every byte is checked before it is trusted; a file that
     * fails a check throws and no map is left behind.
     *
     * @param file the saved map
     * @return the loaded map
     * @throws CorruptedFileException   if the file is truncated, corrupted or of an unknown format version
     * @throws java.io.IOException      if it cannot be read
     * @throws IllegalArgumentException if it holds other codecs' encodings, or this builder set another hash seed
     */
    public ShardedHashMap<K, V> load(java.nio.file.Path file) throws java.io.IOException {
        return load(file, null);
    }

    /**
     * {@link #load(java.nio.file.Path)}, telling {@code listener} how far it has got.
     *
     * @param file     the saved map
     * @param listener progress after every block, or null
     * @return the loaded map
     * @throws CorruptedFileException   if the file is truncated, corrupted or of an unknown format version
     * @throws java.io.IOException      if it cannot be read
     * @throws IllegalArgumentException if it holds other codecs' encodings, or this builder set another hash seed
     */
    public ShardedHashMap<K, V> load(java.nio.file.Path file, PersistenceListener listener)
        throws java.io.IOException {
        requireNonNull(file, "file");
        if (persistedTo != null) {
            throw new IllegalStateException("load() builds a map in memory; a persisted map is opened by build()."
                + " To fill a persisted map from a saved file, load it and putAll into the persisted one");
        }
        try (io.starshard.internal.MapFileReader reader = new io.starshard.internal.MapFileReader(file)) {
            final ShardedHashMap<K, V> map = buildWithSeed(reader.header().seed(), file);
            try {
                reader.loadInto(map.engine(), listener);
                return map;
            } catch (java.io.IOException | RuntimeException | Error e) {
                map.close();
                throw e;
            }
        }
    }

    /** Builds a map in memory with the hash seed its stored entries were hashed with. */
    private ShardedHashMap<K, V> buildWithSeed(long seed, java.nio.file.Path storedIn) {
        if (hashSeed != null && hashSeed != seed) {
            throw new IllegalArgumentException(storedIn + " was written with hash seed " + seed + " and its entries"
                + " are stored by that seed's hashes; do not set another hashSeed (" + hashSeed + ") to open it");
        }
        final Long chosen = hashSeed;
        hashSeed = seed;
        try {
            return buildInMemory();
        } finally {
            hashSeed = chosen;
        }
    }

    /** Opens (or creates) the persisted map in {@link #persistedTo}; on any failure nothing is left open. */
    private ShardedHashMap<K, V> openPersisted() throws java.io.IOException {
        final io.starshard.internal.PersistedStore store = io.starshard.internal.PersistedStore.lock(persistedTo);
        ShardedHashMap<K, V> map = null;
        try {
            final Long seed = store.hashSeed();
            map = seed == null ? buildInMemory() : buildWithSeed(seed, persistedTo);
            store.open(map.engine(), checkpointAfterBytes, reopenListener);
            store.registerLeakCleaner(map);
            return map;
        } catch (java.io.IOException | RuntimeException | Error e) {
            if (map != null) {
                map.close();
            }
            store.abandon();
            throw e;
        }
    }

    private static <T> Codec<T> checkType(String what, Codec<T> codec, Class<T> type) {
        if (!wrap(codec.type()).isAssignableFrom(type)) {
            throw new IllegalArgumentException(what + " codec handles " + codec.type().getName() + ", not "
                + type.getName());
        }
        return codec;
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

    private static <T> T requireNonNull(T value, String name) {
        if (value == null) {
            throw new NullPointerException(name);
        }
        return value;
    }
}
