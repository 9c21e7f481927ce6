package io.starshard.internal;

import io.starshard.SnapshotMode;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.SegmentImage;

import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What one snapshot holds: the hash space cut into pieces, one per shard range at the time it was copied, each an
 * off-heap {@link SegmentImage} or a {@link CowCopy} not made yet. Shared by every handle on the same snapshot
 * (a retained version and the handles {@code snapshotAtVersion} returns) and released when the last lets go.
 *
 * <p>Pieces are ordered by their start in the hash space and cover it without gap or overlap, so a key's piece is
 * found by binary search on its routing bits, and a scan in piece order visits each key once, whatever the
 * shard counts the pieces were copied under.
 */
final class SnapshotData {
    final long version;
    final SnapshotMode mode;
    final Instant takenAt;
    final long takenAtNanos;
    /** Start of each piece in routing bits; piece {@code i} ends where {@code i + 1} starts, the last at 2^32. */
    final long[] starts;
    /** Each piece's copy, or null while it is a {@link #cows} entry not copied yet. */
    private final SegmentImage[] images;
    /** Each piece's pending copy, or null. */
    final CowCopy[] cows;
    final int[] sizes;
    final long size;
    private final AtomicInteger handles = new AtomicInteger(1);

    SnapshotData(long version, SnapshotMode mode, Instant takenAt, long takenAtNanos, long[] starts,
                 SegmentImage[] images, CowCopy[] cows, int[] sizes) {
        this.version = version;
        this.mode = mode;
        this.takenAt = takenAt;
        this.takenAtNanos = takenAtNanos;
        this.starts = starts;
        this.images = images;
        this.cows = cows;
        this.sizes = sizes;
        long total = 0;
        for (int s : sizes) {
            total += s;
        }
        this.size = total;
    }

    int pieces() {
        return starts.length;
    }

    /** The piece holding the key with this hash. */
    int pieceOf(long hash) {
        final int i = Arrays.binarySearch(starts, KeyHasher.routingBits(hash));
        return i >= 0 ? i : -i - 2;
    }

    /**
     * The copy of piece {@code i}, acquired (release it), made now if it is a pending {@code COW} copy.
     *
     * @throws IllegalStateException if the snapshot was closed (no handle is left), or the copy was lost
     */
    SegmentImage acquireCopy(int i) {
        checkOpen();   // a cached copy outlives this snapshot: its reference count alone does not tell
        final SegmentImage image = images[i];
        if (image != null) {
            if (!image.tryAcquire()) {
                throw closed();
            }
            return image;
        }
        final CowCopy cow = cows[i];
        final Shard shard = cow.shard;
        final long stamp = shard.readLock();
        try {
            checkOpen();
            return cow.acquireCopy(shard.segment);
        } finally {
            shard.unlockRead(stamp);
        }
    }

    /** Another handle on this snapshot, unless every handle has been closed. */
    boolean tryAcquireHandle() {
        int n;
        do {
            n = handles.get();
            if (n <= 0) {
                return false;
            }
        } while (!handles.compareAndSet(n, n + 1));
        return true;
    }

    /** Lets go of one handle; the last frees every copy this snapshot holds. */
    void releaseHandle() {
        if (handles.decrementAndGet() != 0) {
            return;
        }
        for (int i = 0; i < starts.length; i++) {
            if (images[i] != null) {
                images[i].release();
            } else if (cows[i] != null) {
                cows[i].leave();
            }
        }
    }

    void checkOpen() {
        if (handles.get() <= 0) {
            throw closed();
        }
    }

    private IllegalStateException closed() {
        return new IllegalStateException("snapshot version " + version + " is closed");
    }
}
