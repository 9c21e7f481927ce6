package io.starshard.internal;

import io.starshard.internal.ThreadContext.Frame;
import io.starshard.offheap.EpochDomain;
import io.starshard.offheap.Segment;

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
     * @param missing the result when the key's shard does not exist; also what {@code op} returns when the key
     *                is absent
     * @return the result of {@code op}
     * @throws IllegalStateException if the map is closed (also when it closes during the read)
     */
    long read(ThreadContext ctx, KeyRead op, Frame f, long hash, long missing) {
        final EpochDomain.Reader reader = ctx.reader;
        final Shard shard;
        final long result;
        reader.enter();
        try {
            shards.checkOpen();
            shard = shards.shardFor(hash);
            if (shard == null) {
                return missing;
            }
            result = attempt(shard, op, f, hash, missing);
        } catch (IllegalStateException e) {
            throw shards.closedOr(e);
        } finally {
            reader.exit();
        }
        return result != CONTENDED ? result : lockedRead(ctx, shard, op, f, hash, missing);
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
            final int sectionEnd = end - i > KEYS_PER_READ_SECTION ? i + KEYS_PER_READ_SECTION : end;
            Shard contended = null;
            long contendedHash = 0;
            reader.enter();
            try {
                shards.checkOpen();
                for (; i < sectionEnd; i++) {
                    final long hash = codec.hashLong(keys[i]);
                    final Shard shard = shards.shardFor(hash);
                    final long value = shard == null ? missing : attempt(shard, LONG_VALUE, null, hash, missing);
                    if (value == CONTENDED) {
                        contended = shard;
                        contendedHash = hash;
                        break;
                    }
                    values[i] = value;
                }
            } catch (IllegalStateException e) {
                throw shards.closedOr(e);
            } finally {
                reader.exit();
            }
            if (contended != null) {
                values[i] = lockedRead(ctx, contended, LONG_VALUE, null, contendedHash, missing);
                i++;
            }
        }
    }

    /** Stamp, optimistic read, validate: the result, or {@link #CONTENDED} if it cannot be trusted. */
    private static long attempt(Shard shard, KeyRead op, Frame f, long hash, long missing) {
        final long stamp = shard.tryOptimisticRead();
        if (stamp == 0) {
            return CONTENDED;
        }
        final long result = op.optimisticRead(shard.segment, f, hash, missing);
        return shard.validate(stamp) ? result : CONTENDED;
    }

    /** The fallback: the read under the shard's read lock, never inside a section. */
    private long lockedRead(ThreadContext ctx, Shard shard, KeyRead op, Frame f, long hash, long missing) {
        if (ctx.reader.inSection()) {
            throw new IllegalStateException("a shard lock must not be taken inside a read section");
        }
        final long stamp = shard.readLock();
        try {
            shards.checkOpen();
            return op.lockedRead(shard.segment, f, hash, missing);
        } finally {
            shard.unlockRead(stamp);
        }
    }
}
