package io.starshard.internal;

import io.starshard.codec.LongCodec;
import io.starshard.codec.StringCodec;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.SegmentSpec;

/** Engines for the tests of this package, without the public map around them. */
final class Engines {
    private Engines() {
    }

    static MapEngine<Long, Long> longToLong(int shards, int maxEntryBytes) {
        return MapEngine.create(Long.class, Long.class, LongCodec.INSTANCE, LongCodec.INSTANCE, new KeyHasher(7),
            shards, maxEntryBytes, OffHeapMemory.UNLIMITED, 0, SegmentSpec.DEFAULT_MAX_PAUSE_NANOS,
            io.starshard.SnapshotMode.CLONE, 0);
    }

    static MapEngine<String, String> stringToString(int shards) {
        return MapEngine.create(String.class, String.class, StringCodec.INSTANCE, StringCodec.INSTANCE,
            new KeyHasher(7), shards, 1 << 20, OffHeapMemory.UNLIMITED, 0, SegmentSpec.DEFAULT_MAX_PAUSE_NANOS,
            io.starshard.SnapshotMode.CLONE, 0);
    }
}
