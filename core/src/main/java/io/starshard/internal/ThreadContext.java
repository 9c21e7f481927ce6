package io.starshard.internal;

import io.starshard.offheap.EpochDomain;
import org.agrona.ExpandableArrayBuffer;

import java.util.Arrays;

/**
 * Per-thread state of every map operation: the thread's epoch reader, a stack of scratch frames, and the maps
 * whose locks the thread holds while it runs user code.
 *
 * <p>Why a stack of frames: keys and values are encoded into scratch buffers before a lock is taken, and values
 * are copied out of shared memory into scratch before they are decoded. A codec or a {@code compute} function
 * is user code and may itself use a map; with a single set of buffers the inner call would overwrite the outer
 * call's key. Each operation {@link #push() pushes} a frame and pops it in {@code finally}: nested operations
 * get their own frame, at the cost of an array index.
 *
 * <p>Buffers start small and grow to the largest entry the thread has handled (bounded by the map's maximum
 * entry size); after warm-up no operation allocates here.
 */
final class ThreadContext {
    private static final ThreadLocal<ThreadContext> CURRENT = ThreadLocal.withInitial(ThreadContext::new);

    /** This thread's registration in the shared epoch domain. */
    final EpochDomain.Reader reader = EpochDomain.shared().reader();
    /**
     * Shard tables whose write lock this thread holds while running user code (compute, merge, retain),
     * innermost last. A stack, not one field: a function of map A may use map B, whose function must still not
     * use A.
     */
    private Object[] lockedTables = new Object[2];
    private int lockedDepth;

    /**
     * The map ({@link ShardTable}) whose operation this thread is running without waiting: a lock of that map found
     * taken throws {@link WouldBlock} instead of waiting. Null otherwise. Scoped to one map so that another map
     * used from inside (a compute function's own calls) behaves as usual.
     */
    Object nonBlockingFor;

    private Frame[] frames = new Frame[4];
    private int depth;

    private ThreadContext() {
    }

    /** The calling thread's context, created on first use. */
    static ThreadContext current() {
        return CURRENT.get();
    }

    /** Records that this thread runs user code under a lock of {@code table}; pair with {@link #exitLocked()}. */
    void enterLocked(Object table) {
        if (lockedDepth == lockedTables.length) {
            lockedTables = Arrays.copyOf(lockedTables, lockedDepth * 2);
        }
        lockedTables[lockedDepth++] = table;
    }

    /** Undoes the matching {@link #enterLocked(Object)}. */
    void exitLocked() {
        lockedTables[--lockedDepth] = null;
    }

    /** Whether this thread runs user code under a lock of {@code table}, at any depth: using it now could deadlock. */
    boolean holdsLockOf(Object table) {
        for (int i = 0; i < lockedDepth; i++) {
            if (lockedTables[i] == table) {
                return true;
            }
        }
        return false;
    }

    /** Takes the next scratch frame; pair with {@link #pop()} in {@code finally}. */
    Frame push() {
        if (depth == frames.length) {
            frames = Arrays.copyOf(frames, depth * 2);
        }
        Frame frame = frames[depth];
        if (frame == null) {
            frame = new Frame(this);
            frames[depth] = frame;
        }
        depth++;
        return frame;
    }

    /** Releases the frame taken by the matching {@link #push()}. */
    void pop() {
        depth--;
    }

    /**
     * The scratch of one operation: its encoded key with hash and length, the encoded value to write, and the
     * copy of a stored value read out of a segment. Little-endian like every encoding in Starshard. Valid only
     * between the {@link #push()} and {@link #pop()} of one operation.
     */
    static final class Frame {
        /** The encoded key, {@link #keyLength} bytes from offset 0. */
        final ExpandableArrayBuffer key = new ExpandableArrayBuffer(64);
        /** The encoded value to write, {@link #valueLength} bytes from offset 0. */
        final ExpandableArrayBuffer value = new ExpandableArrayBuffer(64);
        /** Value bytes copied out of a segment, decoded only after the read was validated or under the lock. */
        final ExpandableArrayBuffer read = new ExpandableArrayBuffer(64);
        int keyLength;
        long hash;
        int valueLength;
        /** The context the frame belongs to (its thread's). */
        final ThreadContext owner;

        private Frame(ThreadContext owner) {
            this.owner = owner;
        }
    }
}
