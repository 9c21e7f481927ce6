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
    /** A map whose shard write lock this thread holds while running user code (compute, merge), or null. */
    public Object lockedMap;
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
