/**
 * Internals of the map (shards, per-thread scratch state). Public only because the map lives in another
 * package; not an API: it may change in any release.
 */
package io.starshard.internal;
