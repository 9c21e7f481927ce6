package io.starshard.offheap;

/**
 * Switch for checks of indices that Starshard computed itself (slot states, internal invariants).
 *
 * <p>On in tests ({@code -Dstarshard.checks=true}, set by the build), off by default and in benchmarks.
 * Checks of offsets and lengths read from shared memory are part of the read algorithm and are never
 * switched off; neither are range checks of slot indices passed in by callers.
 */
final class Checks {
    /** Whether optional invariant checks run. */
    static final boolean ENABLED = Boolean.getBoolean("starshard.checks");

    private Checks() {
    }
}
