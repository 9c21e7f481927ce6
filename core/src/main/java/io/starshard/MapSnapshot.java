package io.starshard;

import io.starshard.internal.SnapshotView;

import java.lang.ref.Cleaner;
import java.time.Duration;
import java.time.Instant;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * An immutable, read-only view of a {@link ShardedHashMap} as it was when the snapshot was taken, held off-heap:
 * dashboards, risk checks, exports and checkpoints read it while the map goes on being written.
 *
 * <p>Guarantees:
 * <ul>
 *   <li><b>Per-shard consistent</b>: each shard's entries are as they were at one moment (under that shard's
 *       lock), as for the map's iterators; writes that keep an invariant inside one shard are seen with the
 *       invariant intact. Two shards may have been captured at slightly different moments.</li>
 *   <li><b>Immutable</b>: later writes to the map never show; the snapshot stays readable after them, during a
 *       rebalance, and after the map is closed.</li>
 *   <li><b>Off-heap</b>: its copies are off-heap bytes ({@link SnapshotStats#imageBytes}), outside the map's
 *       memory budget; the heap pays only for what is read and decoded. How much is copied, and when, depends on
 *       the map's {@link SnapshotMode}.</li>
 *   <li>A read-only {@link Map}: {@link #get} looks a key up (a few probes in the shard's copy), iteration and
 *       {@link #stream()} decode one entry at a time, {@link #parallelStream()} splits by shard and within large
 *       shards. Writing methods throw {@link UnsupportedOperationException}.</li>
 * </ul>
 *
 * <p>Close it (try-with-resources) to free its copies at once; a snapshot that becomes unreachable unclosed is
 * freed by a cleaner. Every method but {@link #close()}, {@link #isClosed()} and the metadata getters throws
 * {@link IllegalStateException} once it is closed. Closing while other threads read it is safe: they finish the
 * entry they are reading, then fail.
 *
 * @param <K> key type
 * @param <V> value type
 */
public final class MapSnapshot<K, V> extends AbstractMap<K, V> implements AutoCloseable, java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private static final Cleaner CLEANER = Cleaner.create();

    private final transient SnapshotView<K, V> view;
    private final transient Release release;
    private final transient Cleaner.Cleanable cleanable;
    private transient Set<Map.Entry<K, V>> entries;

    MapSnapshot(SnapshotView<K, V> view) {
        this.view = view;
        this.release = new Release(view);
        this.cleanable = CLEANER.register(this, release);
    }

    /** Lets go of the view once; holds no reference to the snapshot, so the cleaner can run. */
    private static final class Release implements Runnable {
        private final SnapshotView<?, ?> view;
        private final AtomicBoolean done = new AtomicBoolean();

        Release(SnapshotView<?, ?> view) {
            this.view = view;
        }

        @Override
        public void run() {
            if (done.compareAndSet(false, true)) {
                view.release();
            }
        }
    }

    /**
     * The snapshot's version: unique and increasing among the snapshots of its map. A versioned snapshot can be
     * found again by it ({@link ShardedHashMap#snapshotAtVersion}) while the map retains it.
     *
     * @return the version
     */
    public long version() {
        return view.version();
    }

    /**
     * The mode the map took it in.
     *
     * @return the snapshot mode
     */
    public SnapshotMode mode() {
        return view.mode();
    }

    /**
     * When it was taken.
     *
     * @return the wall-clock instant
     */
    public Instant takenAt() {
        return view.takenAt();
    }

    /**
     * How long ago it was taken (monotonic clock).
     *
     * @return the age
     */
    public Duration age() {
        return Duration.ofNanos(System.nanoTime() - view.takenAtNanos());
    }

    /**
     * Entries, saturated at {@code Integer.MAX_VALUE}; see {@link #mappingCount()}.
     *
     * @return entries
     */
    @Override
    public int size() {
        checkOpen();
        return (int) Math.min(Integer.MAX_VALUE, view.size());
    }

    /**
     * Entries.
     *
     * @return entries, exact
     */
    public long mappingCount() {
        checkOpen();
        return view.size();
    }

    @Override
    public boolean isEmpty() {
        return mappingCount() == 0;
    }

    /**
     * The value the key had when the snapshot was taken.
     *
     * @param key a key (of another type: absent)
     * @return the value, a fresh decoded copy, or null
     * @throws NullPointerException if the key is null
     */
    @Override
    public V get(Object key) {
        if (key == null) {
            throw new NullPointerException("key");
        }
        checkOpen();
        return view.get(key);
    }

    @Override
    public boolean containsKey(Object key) {
        return get(key) != null;
    }

    @Override
    public Set<Map.Entry<K, V>> entrySet() {
        if (entries == null) {
            entries = new AbstractSet<>() {
                @Override
                public Iterator<Map.Entry<K, V>> iterator() {
                    return Spliterators.iterator(spliterator());
                }

                @Override
                public Spliterator<Map.Entry<K, V>> spliterator() {
                    checkOpen();
                    return view.spliterator();
                }

                @Override
                public int size() {
                    return MapSnapshot.this.size();
                }
            };
        }
        return entries;
    }

    /**
     * The entries as a sequential stream, decoded one at a time.
     *
     * @return a stream of immutable entries
     */
    public Stream<Map.Entry<K, V>> stream() {
        return StreamSupport.stream(entrySet().spliterator(), false);
    }

    /**
     * The entries as a parallel stream: split by shard, and within large shards, so that every core scans its
     * own part.
     *
     * @return a parallel stream of immutable entries
     */
    public Stream<Map.Entry<K, V>> parallelStream() {
        return StreamSupport.stream(entrySet().spliterator(), true);
    }

    /**
     * The snapshot as a plain heap map (a {@link HashMap}): every entry decoded now.
     *
     * @return a new mutable map
     */
    public Map<K, V> toMap() {
        final Map<K, V> copy = new HashMap<>(Math.max(16, (int) Math.min(1 << 30, mappingCount() * 4 / 3 + 1)));
        entrySet().spliterator().forEachRemaining(e -> copy.put(e.getKey(), e.getValue()));
        return copy;
    }

    /** Frees the snapshot's off-heap copies (shared copies when the last snapshot holding them closes). */
    @Override
    public void close() {
        cleanable.clean();
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return release.done.get();
    }

    /**
     * Serialises the snapshot's entries (not its memory): it deserialises into a new snapshot with the same
     * entries, mode and shard count, standing alone (the map it was taken from is not needed, and not restored).
     *
     * @return the serialised form
     */
    private Object writeReplace() {
        checkOpen();
        return new SerializedMap(keyType(), valueType(), shardCount(), mode(), true, this);
    }

    Class<K> keyType() {
        return view.keyType();
    }

    Class<V> valueType() {
        return view.valueType();
    }

    int shardCount() {
        return view.shardCount();
    }

    private void readObject(java.io.ObjectInputStream in) throws java.io.InvalidObjectException {
        throw new java.io.InvalidObjectException("a MapSnapshot is read through its serialised form");
    }

    /** This handle closed: fail, even if other handles keep the same copies alive. */
    private void checkOpen() {
        if (release.done.get()) {
            throw new IllegalStateException("snapshot version " + version() + " is closed");
        }
    }

    @Override
    public String toString() {
        return isClosed() ? "MapSnapshot[version " + version() + ", closed]"
            : "MapSnapshot[version " + version() + ", " + mode() + ", " + view.size() + " entries]";
    }
}
