package io.starshard.internal;

import io.starshard.BatchWriteException;
import io.starshard.internal.ThreadContext.Frame;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiPredicate;

/**
 * A map's operations on many keys at once: batches (one key at a time through the engine's single-key
 * operations, after refusing any null so that an NPE means nothing was done), and the range operations (retain,
 * clear), which work a shard range at a time under its locks through {@link ShardTable#forEachRange}.
 *
 * @param <K> key type
 * @param <V> value type
 */
public final class BulkOperations<K, V> {
    private final MapEngine<K, V> engine;
    private final ShardTable shards;
    private final EntryCodec<K, V> codec;
    private final WriteCore core;

    BulkOperations(MapEngine<K, V> engine, ShardTable shards, EntryCodec<K, V> codec, WriteCore core) {
        this.engine = engine;
        this.shards = shards;
        this.codec = codec;
        this.core = core;
    }

    /**
     * Writes entries one by one after refusing any null (so that an NPE means nothing was written); afterwards
     * the only exception is a {@link BatchWriteException} that says how many were applied.
     *
     * @param operation the caller's name, for messages
     * @param entries   the entries
     * @param total     their number, for messages
     * @return how many keys were new
     */
    public int writeAll(String operation, Iterable<? extends Map.Entry<? extends K, ? extends V>> entries, int total) {
        shards.openContext();
        requireNoNullEntries(operation, entries);
        int index = 0;
        int added = 0;
        for (Map.Entry<? extends K, ? extends V> entry : entries) {
            try {
                if (engine.set(Objects.requireNonNull(entry.getKey(), "key"), Objects.requireNonNull(entry.getValue(), "value"))) {
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

    /**
     * The values of {@code keys} in input order, null where absent.
     *
     * @param keys the keys
     * @return a new list
     */
    public List<V> batchGet(Collection<? extends K> keys) {
        shards.openContext();
        requireNoNullKey("batchGet", keys);
        final List<V> values = new ArrayList<>(keys.size());
        for (K key : keys) {
            values.add(engine.optimisticGet(key, null));
        }
        return values;
    }

    /**
     * Removes {@code keys}.
     *
     * @param keys the keys
     * @return how many were present and removed
     */
    public int batchRemove(Collection<? extends K> keys) {
        shards.openContext();
        requireNoNullKey("batchRemove", keys);
        int removed = 0;
        for (K key : keys) {
            if (engine.remove(key, null)) {
                removed++;
            }
        }
        return removed;
    }

    /**
     * Refuses a null entry, key or value before anything is written, so that an NPE means "nothing was written".
     *
     * @param operation the caller's name, for the message
     * @param entries   the entries
     * @throws NullPointerException naming the first null and its position
     */
    public static void requireNoNullEntries(String operation,
                                            Iterable<? extends Map.Entry<?, ?>> entries) {
        int position = 0;
        for (Map.Entry<?, ?> entry : entries) {
            if (entry == null || entry.getKey() == null || entry.getValue() == null) {
                throw new NullPointerException(operation + ": input entry #" + position + " has a null "
                    + (entry == null ? "entry" : entry.getKey() == null ? "key" : "value")
                    + "; nothing was written");
            }
            position++;
        }
    }

    /**
     * Refuses a null key before anything is read or removed, so that an NPE means "nothing was done".
     *
     * @param operation the caller's name, for the message
     * @param keys      the keys
     * @throws NullPointerException naming the first null key's position
     */
    public static void requireNoNullKey(String operation, Collection<?> keys) {
        int position = 0;
        for (Object key : keys) {
            if (key == null) {
                throw new NullPointerException(operation + ": input key #" + position + " is null; nothing was done");
            }
            position++;
        }
    }

    /**
     * Keeps the entries for which {@code keep} holds; each shard atomically under its write lock.
     *
     * @param keep the predicate, run under the lock
     * @return how many entries were removed
     */
    public int retain(BiPredicate<? super K, ? super V> keep) {
        final ThreadContext ctx = shards.openContext();
        return (int) shards.forEachRange(true, (segment, from, to, whole) -> {
            final Frame f = ctx.push();
            ctx.enterLocked(shards);
            try {
                int removed = 0;
                for (int slot = segment.nextFull(0); slot >= 0; slot = segment.nextFull(slot + 1)) {
                    if (!whole && !ShardTable.routesInto(segment.hashAt(slot), from, to)) {
                        continue;
                    }
                    f.keyLength = segment.readKey(slot, f.key, 0);
                    final K key = codec.decodeKey(f.key, 0, f.keyLength);
                    final V value = codec.decodeRead(f, segment.readValue(slot, f.read, 0));
                    if (!keep.test(key, value)) {
                        f.hash = segment.hashAt(slot);
                        core.removeAt(segment, slot, f);
                        removed++;
                    }
                }
                return removed;
            } finally {
                ctx.exitLocked();
                ctx.pop();
            }
        });
    }

    /** Removes every entry, shard range by shard range. */
    public void clear() {
        shards.openContext();
        removeRange(0, ShardTable.ROUTING_END, core.journal());
    }

    /**
     * Removes every entry routed into {@code [from, to)}, shard range by shard range, each under its locks; journals
     * each range first if {@code journal} is not null.
     */
    void removeRange(long from, long to, Journal journal) {
        shards.forEachRange(true, from, to, (segment, rangeFrom, rangeTo, whole) -> {
            if (journal != null) {
                journal.appendRange(rangeFrom, rangeTo);
            }
            int removed = 0;
            if (whole) {
                removed = segment.size();
                segment.clear();
            } else {
                for (int slot = segment.nextFull(0); slot >= 0; slot = segment.nextFull(slot + 1)) {
                    if (ShardTable.routesInto(segment.hashAt(slot), rangeFrom, rangeTo)) {
                        segment.removeAt(slot);
                        removed++;
                    }
                }
            }
            shards.removed(removed);
            return removed;
        });
    }
}
