package io.starshard;

import io.starshard.internal.MapEngine;
import io.starshard.offheap.RecordDescriptor;
import org.agrona.ExpandableArrayBuffer;

import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Iterates a map shard range by shard range: each range's entries are copied as raw records under its shards'
 * read locks, then decoded one at a time without any lock held.
 *
 * <p>Why copy: decoding runs user code (codecs) and the caller's loop body runs between elements; neither may
 * run under a shard lock or against shared memory. Copying one shard range at a time keeps the heap cost to the
 * largest shard and makes iteration per-shard consistent. The position is a point in the hash space, not a shard
 * index, so a rebalance that changes the shard count between two steps neither repeats nor skips a key. {@link #remove()} removes the last key from the map,
 * whatever its value is by then (as {@code ConcurrentHashMap}'s iterators do).
 *
 * @param <K> key type
 * @param <V> value type
 * @param <T> element type: the key, the value, or a {@link Map.Entry}
 */
final class ShardSnapshotIterator<K, V, T> implements Iterator<T> {
    static final int KEYS = 0;
    static final int VALUES = 1;
    static final int ENTRIES = 2;
    /** The end of the hash space, as routing bits. */
    static final long END = 1L << 32;

    private final ShardedHashMap<K, V> map;
    private final MapEngine<K, V> engine;
    private final int kind;
    /** The routing position (high 32 hash bits) the next copy starts at; {@link #end} when done. */
    private long boundary;
    /** Where this iterator's part of the hash space ends: {@code 2^32} for the whole map. */
    private final long end;
    private final ExpandableArrayBuffer records = new ExpandableArrayBuffer(256);
    /** Bytes of the last key (values iteration decodes keys only if remove() asks). */
    private final ExpandableArrayBuffer lastKeyBytes = new ExpandableArrayBuffer(32);
    private int lastKeyLength = -1;
    private K lastKey;
    private int position;
    private int limit;

    ShardSnapshotIterator(ShardedHashMap<K, V> map, int kind) {
        this(map, kind, 0, END);
    }

    /** Iterates the keys whose routing bits lie in {@code [from, to)}: a part of the map for a parallel scan. */
    ShardSnapshotIterator(ShardedHashMap<K, V> map, int kind, long from, long to) {
        this.map = map;
        this.engine = map.engine();
        engine.checkUsable();
        this.kind = kind;
        this.boundary = from;
        this.end = to;
    }

    @Override
    public boolean hasNext() {
        if (engine.isClosed()) {
            engine.checkUsable();   // also when the current shard's copy is buffered: a closed map answers nothing
        }
        while (position >= limit) {
            if (boundary >= end) {
                return false;
            }
            final long step = engine.exportFrom(boundary, end, records);
            boundary = step >>> 31;
            limit = (int) (step & Integer.MAX_VALUE);
            position = 0;
        }
        return true;
    }

    @Override
    @SuppressWarnings("unchecked")
    public T next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        final int keyLength = RecordDescriptor.keyLength(records, position);
        final int valueLength = RecordDescriptor.valueLength(records, position);
        final int keyAt = RecordDescriptor.keyOffset(position);
        final int valueAt = RecordDescriptor.valueOffset(position, keyLength);
        position += RecordDescriptor.recordLength(keyLength, valueLength);
        lastKeyLength = keyLength;
        final Object element;
        if (kind == VALUES) {
            lastKey = null;
            lastKeyBytes.putBytes(0, records, keyAt, keyLength);
            element = engine.decodeValue(records, valueAt, valueLength);
        } else {
            lastKey = engine.decodeKey(records, keyAt, keyLength);
            element = kind == KEYS ? lastKey : new MapEntry<>(map, lastKey, engine.decodeValue(records, valueAt, valueLength));
        }
        return (T) element;
    }

    @Override
    public void remove() {
        if (lastKeyLength < 0) {
            throw new IllegalStateException("next() has not been called, or remove() was already called");
        }
        final K key = lastKey != null ? lastKey : engine.decodeKey(lastKeyBytes, 0, lastKeyLength);
        lastKey = null;
        lastKeyLength = -1;
        map.remove(key);
    }
}
