package io.starshard.internal;

import io.starshard.internal.ThreadContext.Frame;
import io.starshard.offheap.EpochDomain;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentClosedException;

/**
 * The one read protocol of the map: every key read (object, {@code long}, batch, presence) goes through it.
 *
 * <pre>
 *  reader.enter()                         read section: memory reachable now is not freed until exit()
 *    check open                           after enter(): close() either waits for this section or is seen here
 *    shard = route(hash)                  a missing shard answers "absent" (reads never create shards)
 *    stamp = shard.tryOptimisticRead()
 *    r = op.optimisticRead(segment, ...)  bounds-checked racy read: may be garbage, never a fault
 *    trusted = shard.validate(stamp)
 *  reader.exit()
 *  if not trusted: r = op.lockedRead(...) under the shard's read lock, outside the section
 *  the caller decodes from its private copy, outside every lock and section
 * </pre>
 *
 * <p>Why the lock is taken only after {@code exit()}: a writer that holds the write lock may be waiting for a
 * grace period (growth, close), which waits for every open section; a reader blocking on that lock inside its
 * section would deadlock with it. {@link ShardTable#lockForWrite} refuses to lock inside a section, and
 * {@link #lockedRead} checks the same, so the rule is enforced, not only written down.
 *
 * <p>Reads are {@link KeyRead} constants: a bracket inlined into a caller that passes a constant has a
 * monomorphic call site, so no read pays for an interface dispatch.
 */
final class ReadProtocol {
    /**
     * What {@link #attempt} returns when the optimistic result cannot be trusted. A {@code long} value read
     * optimistically may happen to equal it; then the locked read is taken needlessly and answers the same.
     */
    static final long CONTENDED = Long.MIN_VALUE + 0x5EED;
    /** Most keys one batched read covers in one read section: a section delays reclamation and close(). */
    static final int KEYS_PER_READ_SECTION = 64;

    /** A read of one key, optimistic or under the shard's read lock. */
    abstract static class KeyRead {
        /**
         * Reads racily inside a read section while a writer may be changing the segment. Never faults; the
         * result is trusted only if the caller's stamp validates afterwards.
         *
         * @return the result, or {@link #CONTENDED} if the segment saw a writer's half-done change
         */
        abstract long optimisticRead(Segment segment, Frame f, long hash, long missing);

        /** Reads under the shard's read lock: the result is exact. */
        abstract long lockedRead(Segment segment, Frame f, long hash, long missing);
    }

    /** The value bytes of the key in {@code f}, copied into {@code f.read}: the length or {@code NOT_FOUND}. */
    static final KeyRead VALUE = new KeyRead() {
        @Override
        long optimisticRead(Segment segment, Frame f, long hash, long missing) {
            final int length = segment.optimisticGet(hash, f.key, 0, f.keyLength, f.read, 0);
            return length == Segment.RETRY ? CONTENDED : length;
        }

        @Override
        long lockedRead(Segment segment, Frame f, long hash, long missing) {
            final int length = segment.optimisticGet(hash, f.key, 0, f.keyLength, f.read, 0);
            if (length == Segment.RETRY) {
                throw new IllegalStateException("segment memory is inconsistent under the read lock");
            }
            return length;
        }
    };

    /**
     * Whether the key in {@code f} is present: 1 or 0, without copying its value. With no frame, the key of an
     * inline {@code Long -> Long} map whose hash is given (inline slots compare hashes only).
     */
    static final KeyRead PRESENCE = new KeyRead() {
        @Override
        long optimisticRead(Segment segment, Frame f, long hash, long missing) {
            final int slot = f == null ? segment.optimisticLookup(hash, null, 0, 0) : segment.optimisticLookup(hash, f.key, 0, f.keyLength);
            return slot == Segment.RETRY ? CONTENDED : slot >= 0 ? 1 : 0;
        }

        @Override
        long lockedRead(Segment segment, Frame f, long hash, long missing) {
            return (f == null ? segment.find(hash, null, 0, 0) : segment.find(hash, f.key, 0, f.keyLength)) >= 0 ? 1 : 0;
        }
    };

    /** The value of a {@code long} key of an inline {@code Long -> Long} map, or {@code missing}. No frame. */
    static final KeyRead LONG_VALUE = new KeyRead() {
        @Override
        long optimisticRead(Segment segment, Frame f, long hash, long missing) {
            return segment.optimisticGetLong(hash, missing);
        }

        @Override
        long lockedRead(Segment segment, Frame f, long hash, long missing) {
            return segment.optimisticGetLong(hash, missing);
        }
    };

    private final ShardTable shards;

    ReadProtocol(ShardTable shards) {
        this.shards = shards;
    }

    /**
     * Reads one key.
     *
     * @param f       the operation's frame (null for the {@code long} reads, which need none)
     * @param missing the result when the key is absent; {@code op} returns it for an absent key too
     * @return the result of {@code op}
     * @throws IllegalStateException if the map is closed (also when it closes during the read)
     */
    long read(ThreadContext ctx, KeyRead op, Frame f, long hash, long missing) {
        final EpochDomain.Reader reader = ctx.reader;
        while (true) {
            final ShardTable.Layout l;
            final long result;
            reader.enter();
            try {
                shards.checkOpen();
                l = shards.layout();
                result = attemptKey(l, op, f, hash, missing);
            } catch (IllegalStateException e) {
                throw shards.closedOr(e);
            } finally {
                reader.exit();
            }
            final long trusted = result != CONTENDED ? result : lockedRead(ctx, l, op, f, hash, missing);
            if (shards.layout() == l) {   // else a rebalance started or ended meanwhile: route again
                return trusted;
            }
        }
    }

    /**
     * Reads {@code values[i] = getLong(keys[i])} for {@code i} in {@code [offset, end)}, one read section per
     * {@value #KEYS_PER_READ_SECTION} keys: the section's fence is paid once per batch and the cache misses of
     * independent keys overlap. A contended key leaves the section, is read under its lock, and the batch goes
     * on in a new section. Each key is read atomically; the batch as a whole is not a snapshot.
     */
    void readLongs(ThreadContext ctx, EntryCodec<?, ?> codec, long[] keys, long[] values, int offset, int end,
                   long missing) {
        final EpochDomain.Reader reader = ctx.reader;
        int i = offset;
        while (i < end) {
            // not min(end, i + 64): near the largest arrays that sum would overflow and the loop never end
            final int sectionStart = i;
            final int sectionEnd = end - i > KEYS_PER_READ_SECTION ? i + KEYS_PER_READ_SECTION : end;
            final ShardTable.Layout l;
            boolean contended = false;
            reader.enter();
            try {
                shards.checkOpen();
                l = shards.layout();
                for (; i < sectionEnd; i++) {
                    final long value = attemptKey(l, LONG_VALUE, null, codec.hashLong(keys[i]), missing);
                    if (value == CONTENDED) {
                        contended = true;
                        break;
                    }
                    values[i] = value;
                }
            } catch (IllegalStateException e) {
                throw shards.closedOr(e);
            } finally {
                reader.exit();
            }
            if (contended) {
                values[i] = lockedRead(ctx, l, LONG_VALUE, null, codec.hashLong(keys[i]), missing);
                i++;
            }
            if (shards.layout() != l) {
                i = sectionStart;   // a rebalance started or ended meanwhile: read this section's keys again
            }
        }
    }

    /**
     * The optimistic read of one key under layout {@code l}: during a rebalance its previous shard first, then its
     * active one (keys only move from previous to active, so this order cannot miss a key present throughout).
     *
     * @return the result, or {@link #CONTENDED} if it cannot be trusted
     */
    private static long attemptKey(ShardTable.Layout l, KeyRead op, Frame f, long hash, long missing) {
        final Migration m = l.migration;
        if (m != null) {
            final Shard previous = m.previousFor(hash);
            if (previous != null) {
                final long result = attempt(previous, op, f, hash, missing);
                if (result != missing) {
                    return result;   // found, or CONTENDED
                }
            }
        }
        final Shard active = ShardTable.activeFor(l, hash);
        return active == null ? missing : attempt(active, op, f, hash, missing);
    }

    /** Stamp, optimistic read, validate: the result, or {@link #CONTENDED} if it cannot be trusted. */
    private static long attempt(Shard shard, KeyRead op, Frame f, long hash, long missing) {
        final long stamp = shard.tryOptimisticRead();
        if (stamp == 0) {
            return CONTENDED;
        }
        final long result;
        try {
            result = op.optimisticRead(shard.segment, f, hash, missing);
        } catch (SegmentClosedException e) {
            return CONTENDED;   // released by close() or by a finished rebalance: decided under the lock
        }
        return shard.validate(stamp) ? result : CONTENDED;
    }

    /** The fallback: the key read under its shards' read locks (previous, then active), never inside a section. */
    private long lockedRead(ThreadContext ctx, ShardTable.Layout l, KeyRead op, Frame f, long hash, long missing) {
        if (ctx.reader.inSection()) {
            throw new IllegalStateException("a shard lock must not be taken inside a read section");
        }
        final Migration m = l.migration;
        final Shard previous = m == null ? null : m.previousFor(hash);
        final boolean nonBlocking = ctx.nonBlockingFor == shards;
        if (previous != null) {
            final long result = lockedRead(previous, op, f, hash, missing, nonBlocking);
            if (result != missing) {
                return result;
            }
        }
        final Shard active = ShardTable.activeFor(l, hash);
        return active == null ? missing : lockedRead(active, op, f, hash, missing, nonBlocking);
    }

    private long lockedRead(Shard shard, KeyRead op, Frame f, long hash, long missing, boolean nonBlocking) {
        final long stamp = shard.acquireRead(nonBlocking);
        try {
            shards.checkOpen();
            // A segment released by a finished rebalance was empty: its keys are all in the active shards.
            return shard.segment.isClosed() ? missing : op.lockedRead(shard.segment, f, hash, missing);
        } finally {
            shard.unlockRead(stamp);
        }
    }
}
