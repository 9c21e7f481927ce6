package io.starshard;

/**
 * Told how far a {@link ShardedHashMap#save save} or a {@link ShardedHashMapBuilder#load load} has got, after
 * every block of entries (one shard range) and once at the end; a progress bar for large maps. Called in the
 * thread that saves or loads, never under a lock. A load imports blocks on helper threads too and reports after
 * each block the calling thread imports, with the total so far: fewer calls, never a count that goes back.
 */
@FunctionalInterface
public interface PersistenceListener {
    /**
     * Reports how far a save or load has got.
     *
     * @param entriesDone  entries written or loaded so far
     * @param entriesTotal entries in all (for a save of a map being written, the count when the save started)
     * @param bytesDone    bytes of the file written or read so far
     */
    void progress(long entriesDone, long entriesTotal, long bytesDone);
}
