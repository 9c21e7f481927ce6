/**
 * Off-heap storage: segments of {@code (hash, key bytes, value bytes)}, memory accounting and reclamation.
 * Knows nothing about Java objects, codecs or locks.
 */
module io.starshard.offheap {
    requires transitive org.agrona;

    exports io.starshard.offheap;
}
