package io.starshard.internal;

import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentImage;

/**
 * One shard's state as {@code COW} snapshots hold it: nothing copied until the shard is about to change, or a
 * snapshot needs the bytes for iteration; then one copy that every snapshot holding this state shares.
 *
 * <p>Protocol. It is armed as the segment's {@link Segment.ChangeHook} under the shard's lock, when the segment
 * holds exactly the snapshot's entries. A change of the entries runs the hook first, under the write lock, so
 * while the hook is armed the live segment still holds the snapshot's state: a snapshot may read it there, under
 * the shard's read lock. Once copied (by a write, a snapshot's iteration, or the shard's release) the snapshots
 * read the {@link #image}. The last snapshot to let go releases the copy; a write after that copies nothing.
 *
 * <p>Every field is guarded by this object's monitor; the monitor is taken inside the shard's lock, never the
 * other way round.
 */
final class CowCopy implements Segment.ChangeHook {
    private final Snapshots<?, ?> owner;
    /** The shard whose state this is. */
    final Shard shard;
    /** Snapshots holding this state. */
    private int holders = 1;
    private SegmentImage image;
    /** Set when the copy could not be made before the shard was released (the map closed). */
    private RuntimeException lost;

    CowCopy(Snapshots<?, ?> owner, Shard shard) {
        this.owner = owner;
        this.shard = shard;
    }

    /** Adds a snapshot to the holders, if this state is still the live one and still held. */
    synchronized boolean join() {
        if (holders == 0 || image != null || lost != null) {
            return false;
        }
        holders++;
        return true;
    }

    /** Called by a write, under the shard's write lock, before the entries change: copy them if still held. */
    @Override
    public synchronized void beforeChange(Segment segment) {
        if (holders > 0 && image == null && lost == null) {
            image = owner.copy(segment);
            owner.copiedOnWrite();
        }
    }

    /**
     * The copy for a reader, acquired (release it), made now if no write has made it. The caller holds the
     * shard's read lock.
     *
     * @throws IllegalStateException if the copy was lost when the map closed
     */
    synchronized SegmentImage acquireCopy(Segment segment) {
        if (image == null) {
            checkNotLost();
            image = owner.copy(segment);
        }
        image.tryAcquire();   // holders > 0, so the image's own reference keeps it alive
        return image;
    }

    /**
     * The copy, acquired, or null while the live segment still holds this state. The caller holds the shard's
     * read lock.
     *
     * @throws IllegalStateException if the copy was lost when the map closed
     */
    synchronized SegmentImage acquireCopyIfMade() {
        if (image == null) {
            checkNotLost();
            return null;
        }
        image.tryAcquire();
        return image;
    }

    /** Under the shard's write lock, before its memory is released: copy now, or remember why it could not be. */
    synchronized void beforeRelease(Segment segment) {
        if (holders > 0 && image == null && lost == null) {
            try {
                image = owner.copy(segment);
            } catch (RuntimeException e) {
                lost = e;
            }
        }
    }

    /** A snapshot lets go; the last one frees the copy. */
    synchronized void leave() {
        if (--holders == 0 && image != null) {
            image.release();
            image = null;
            lost = new IllegalStateException("released");   // never joined again
        }
    }

    private void checkNotLost() {
        if (lost != null) {
            throw new IllegalStateException("this snapshot's copy of a shard could not be made before the map"
                + " closed (" + lost.getMessage() + "); the entries of that shard are lost to it", lost);
        }
    }
}
