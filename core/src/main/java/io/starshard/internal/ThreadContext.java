package io.starshard.internal;

import io.starshard.offheap.EpochDomain;
import org.agrona.ExpandableArrayBuffer;

import java.util.Arrays;

/**
 * Per-thread state of every map operation: the thread's epoch reader and a stack of scratch frames.
 *
 * <p>Why a stack: keys and values are encoded into scratch buffers before a lock is taken and values are copied
 * out of shared memory into scratch before they are decoded. A codec or a {@code compute} function is user code
 * and may itself use a map; with a single set of buffers the inner call would overwrite the outer call's key.
 * Each operation {@link #push() pushes} a frame and pops it in {@code finally}: nested operations get their
 * own frame, at the cost of an array index.
 *
 * <p>Buffers start small and grow to the largest entry the thread has handled (bounded by the map's maximum
 * entry size); after warm-up no operation allocates here.
 */
public final class ThreadContext {
    private static final ThreadLocal<ThreadContext> CURRENT = ThreadLocal.withInitial(ThreadContext::new);

    /** This thread's registration in the shared epoch domain. */
    public final EpochDomain.Reader reader = EpochDomain.shared().reader();
    /**
     * Maps whose shard write lock this thread holds while running user code (compute, merge, retain), innermost
     * last. A stack, not one field: a function of map A may use map B, whose function must still not use A.
     */
    private Object[] lockedMaps = new Object[2];
    private int lockedDepth;
    /** Whether this thread's last {@code ShardedHashMap.set} added a key (rather than replacing a value). */
    public boolean lastWriteAdded;

    private Frame[] frames = new Frame[4];
    private int depth;

    private ThreadContext() {
    }

    /**
     * The calling thread's context.
     *
     * @return the context, created on first use
     */
    public static ThreadContext current() {
        return CURRENT.get();
    }

    /**
     * Records that this thread runs user code while holding a shard lock of {@code map}; pair with
     * {@link #exitLocked()} in {@code finally}.
     *
     * @param map the map whose lock is held
     */
    public void enterLocked(Object map) {
        if (lockedDepth == lockedMaps.length) {
            lockedMaps = Arrays.copyOf(lockedMaps, lockedDepth * 2);
        }
        lockedMaps[lockedDepth++] = map;
    }

    /** Undoes the matching {@link #enterLocked(Object)}. */
    public void exitLocked() {
        lockedMaps[--lockedDepth] = null;
    }

    /**
     * Whether this thread is running user code under a shard lock of {@code map} (at any nesting depth).
     *
     * @param map the map
     * @return true if a use of {@code map} now could deadlock
     */
    public boolean holdsLockOf(Object map) {
        for (int i = 0; i < lockedDepth; i++) {
            if (lockedMaps[i] == map) {
                return true;
            }
        }
        return false;
    }

    /**
     * Takes the next scratch frame; pair with {@link #pop()} in {@code finally}.
     *
     * @return a frame no enclosing operation of this thread is using
     */
    public Frame push() {
        if (depth == frames.length) {
            frames = Arrays.copyOf(frames, depth * 2);
        }
        Frame frame = frames[depth];
        if (frame == null) {
            frame = new Frame();
            frames[depth] = frame;
        }
        depth++;
        return frame;
    }

    /** Releases the frame taken by the matching {@link #push()}. */
    public void pop() {
        depth--;
    }

    /** Scratch buffers of one operation. Little-endian like every encoding in Starshard. */
    public static final class Frame {
        /** The encoded key. */
        public final ExpandableArrayBuffer key = new ExpandableArrayBuffer(64);
        /** The encoded value to write. */
        public final ExpandableArrayBuffer value = new ExpandableArrayBuffer(64);
        /** Value bytes copied out of a segment, decoded after validation. */
        public final ExpandableArrayBuffer read = new ExpandableArrayBuffer(64);

        Frame() {
        }
    }
}
