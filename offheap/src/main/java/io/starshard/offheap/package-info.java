/**
 * Where Starshard's bytes live: off-heap hash tables that store {@code (64-bit hash, key bytes, value bytes)}
 * and know nothing about Java objects, codecs or locks.
 *
 * <h2>Public surface</h2>
 * {@link io.starshard.offheap.Segment} (one shard's table), {@link io.starshard.offheap.SegmentSpec} (its slot
 * format), {@link io.starshard.offheap.OffHeapMemory} (allocation accounting and budget),
 * {@link io.starshard.offheap.EpochDomain} (deferred reclamation for lock-free readers),
 * {@link io.starshard.offheap.KeyHasher} (seeded hashing and the hash-bit split), statistics and exceptions.
 *
 * <h2>Raw memory</h2>
 * Only {@code MemoryAccess} touches raw addresses (Agrona's {@code UnsafeApi}); a test enforces it. Its
 * accessors name their ordering: {@code getLong}/{@code putLong} are plain; {@code LE} variants fix the byte
 * order to little-endian for bytes that leave the process (values, exported records). Ordering between
 * writers and racy readers is provided by the owner's {@code StampedLock} (a seqlock: the reader validates
 * its stamp after reading) and by the volatile table reference; the {@link io.starshard.offheap.EpochDomain}
 * makes sure the memory a racy reader dereferences is still mapped.
 *
 * <h2>The one safety rule</h2>
 * Every address dereferenced is either computed from an immutable descriptor of a live allocation
 * ({@code Table}, {@code EntryArena.Chunk}) with indices bounded by that descriptor, or read from shared memory
 * and checked against such a descriptor first. Memory is returned to the operating system only through the
 * epoch domain, once no reader section that could have seen it remains open.
 */
package io.starshard.offheap;
