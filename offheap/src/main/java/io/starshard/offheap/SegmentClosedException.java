package io.starshard.offheap;

/**
 * A segment was used after its memory was released.
 *
 * <p>Its own type because the owner may release a segment on purpose while racy readers can still reach it (for
 * example the old segments of a finished rebalance, emptied before release): such a reader treats this exception as
 * "the entry is no longer here", while a release by {@code close()} stays an error.
 */
public final class SegmentClosedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with the message "segment is closed". */
    public SegmentClosedException() {
        super("segment is closed");
    }
}
