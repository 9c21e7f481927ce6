package io.starshard.internal;

import io.starshard.offheap.KeyHasher;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReadProtocolTest {

    @Test
    void aValueEqualToTheContendedMarkerIsStillReadCorrectly() {
        final MapEngine<Long, Long> engine = Engines.longToLong(4, 1 << 20);
        try {
            engine.putLong(1L, ReadProtocol.CONTENDED, -1L);
            engine.putLong(2L, 5L, -1L);
            assertEquals(ReadProtocol.CONTENDED, engine.optimisticGetLong(1L, -1L));
            final long[] values = new long[3];
            engine.optimisticGetLongs(new long[] {2L, 1L, 3L}, values, 0, 3, -1L);
            assertArrayEquals(new long[] {5L, ReadProtocol.CONTENDED, -1L}, values);
            assertEquals(ReadProtocol.CONTENDED, engine.optimisticGetLong(9L, ReadProtocol.CONTENDED),
                "a missing value equal to the marker is answered through the locked read");
        } finally {
            engine.close();
        }
    }

    @Test
    void aReadOfAShardAWriterHoldsWaitsForTheLockAndSeesTheWrite() throws Exception {
        final MapEngine<Long, Long> engine = Engines.longToLong(1, 1 << 20);
        try {
            engine.putLong(1L, 10L, -1L);
            final ShardTable shards = engine.shardTable();
            final ThreadContext ctx = ThreadContext.current();
            final ThreadContext.Frame f = ctx.push();
            final Shard shard;
            try {
                f.key.putLong(0, 1L, java.nio.ByteOrder.LITTLE_ENDIAN);
                f.keyLength = 8;
                f.hash = new KeyHasher(7).hashFixed(1L);
                shard = shards.lockForWrite(ctx, f, false);
            } finally {
                ctx.pop();
            }
            final Thread[] reader = new Thread[1];
            final CompletableFuture<Long> read;
            try {
                read = CompletableFuture.supplyAsync(() -> {
                    reader[0] = Thread.currentThread();
                    return engine.optimisticGetLong(1L, -1L);
                });
                awaitParked(reader);
                assertFalse(read.isDone(), "the reader must wait for the write lock, not return a racy value");
                shard.segment.replaceValueLong(shard.segment.find(new KeyHasher(7).hashFixed(1L), null, 0, 0), 11L);
            } finally {
                ShardTable.unlockWrite(shard);
            }
            assertEquals(11L, read.get(30, TimeUnit.SECONDS));
        } finally {
            engine.close();
        }
    }

    @Test
    void noShardLockIsTakenInsideAReadSection() {
        final MapEngine<String, String> engine = Engines.stringToString(2);
        final ThreadContext ctx = ThreadContext.current();
        ctx.reader.enter();
        try {
            final ThreadContext.Frame f = ctx.push();
            f.hash = 42L;
            f.keyLength = 1;
            final IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> engine.shardTable().lockForWrite(ctx, f, true));
            ctx.pop();
            assertTrue(e.getMessage().contains("read section"), e.getMessage());
        } finally {
            ctx.reader.exit();
            engine.close();
        }
    }

    @Test
    void readsOfAbsentKeysCreateNoShard() {
        final MapEngine<String, String> engine = Engines.stringToString(8);
        try {
            for (int i = 0; i < 100; i++) {
                assertEquals(null, engine.optimisticGet("k" + i, null));
                assertFalse(engine.optimisticContainsKey("k" + i));
                assertEquals(null, engine.remove("k" + i));
            }
            assertEquals(0, engine.initializedShards());
            assertEquals(0, engine.memoryStats().usedBytes());
        } finally {
            engine.close();
        }
    }

    /** Waits until the reader thread parks (on the shard's lock); fails after a generous deadline. */
    private static void awaitParked(Thread[] reader) throws InterruptedException {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (reader[0] == null || reader[0].getState() != Thread.State.WAITING) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the reader never waited for the shard's lock");
            }
            Thread.sleep(1);
        }
    }
}
