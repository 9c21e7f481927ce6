/**
 * Starshard's public map API: {@link io.starshard.ShardedHashMap}, its builder, statistics records and
 * exceptions. Internals live in {@code io.starshard.internal}; storage in {@code io.starshard.offheap}; codecs in
 * {@code io.starshard.codec}.
 */
package io.starshard;
