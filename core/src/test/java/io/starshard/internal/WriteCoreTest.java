package io.starshard.internal;

import io.starshard.offheap.EntryTooLargeException;
import io.starshard.offheap.Segment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WriteCoreTest {
    private final MapEngine<String, String> engine = Engines.stringToString(4);

    @AfterEach
    void close() {
        engine.checkInvariants();
        engine.close();
        assertEquals(0, engine.memoryAccountant().usedBytes());
    }

    @Test
    void putValInsertsReplacesAndLeavesAPresentKeyWithOnlyIfAbsent() {
        assertNull(engine.put("a", "1", false));
        assertEquals("1", engine.put("a", "2", false));
        assertEquals("2", engine.put("a", "3", true), "onlyIfAbsent returns the existing value");
        assertEquals("2", engine.optimisticGet("a", null), "and changes nothing");
        assertTrue(engine.set("b", "x"));
        assertFalse(engine.set("b", "y"));
        assertEquals(2, engine.size());
    }

    @Test
    void replaceNodeActsOnlyOnAPresentKeyWhoseValueMatches() {
        assertNull(engine.replace("a", "1"), "absent: nothing replaced");
        assertFalse(engine.remove("a", null));
        engine.put("a", "1", false);
        assertFalse(engine.replace("a", "other", "2"), "mismatch");
        assertEquals("1", engine.optimisticGet("a", null));
        assertTrue(engine.replace("a", "1", "2"));
        assertFalse(engine.remove("a", "1"), "mismatch");
        assertEquals("2", engine.remove("a"));
        assertEquals(0, engine.size());
    }

    @Test
    void remapInsertsReplacesRemovesOrKeeps() {
        assertEquals("v", engine.compute("a", (k, v) -> v == null ? "v" : v + "!", false));
        assertEquals("v!", engine.compute("a", (k, v) -> v == null ? "v" : v + "!", false));
        assertNull(engine.compute("b", (k, v) -> "never", true), "computeIfPresent of an absent key");
        assertEquals("v!", engine.computeIfAbsent("a", k -> "other"));
        assertEquals("m", engine.merge("c", "m", (x, y) -> x + y));
        assertEquals("mm", engine.merge("c", "m", (x, y) -> x + y));
        assertNull(engine.merge("c", "m", (x, y) -> null), "null removes");
        assertNull(engine.compute("a", (k, v) -> null, true), "null removes");
        assertEquals(0, engine.size());
    }

    @Test
    void reEntryFromAComputeFunctionIsRefusedAndChangesNothing() {
        engine.put("a", "1", false);
        final IllegalStateException e = assertThrows(IllegalStateException.class,
            () -> engine.compute("a", (k, v) -> engine.optimisticGet("x", null), false));
        assertTrue(e.getMessage().contains("must not use the map"), e.getMessage());
        assertEquals("1", engine.optimisticGet("a", null));
        assertEquals(1, engine.size());
    }

    @Test
    void aValueTooLargeForTheRemappedEntryChangesNothing() {
        engine.put("a", "1", false);
        final String huge = "x".repeat(1 << 20);
        assertThrows(EntryTooLargeException.class, () -> engine.compute("a", (k, v) -> huge, false));
        assertThrows(EntryTooLargeException.class, () -> engine.merge("b", huge, (x, y) -> x));
        assertEquals("1", engine.optimisticGet("a", null));
        assertEquals(1, engine.size());
    }

    @Test
    void longWritesObeyTheEntryLimitAndGoThroughTheSameCount() {
        final MapEngine<Long, Long> small = Engines.longToLong(2, 15);
        try {
            assertThrows(EntryTooLargeException.class, () -> small.putLong(1L, 2L, -1L));
            assertThrows(EntryTooLargeException.class, () -> small.addAndGetLong(1L, 2L));
            assertEquals(0, small.size());
            assertEquals(-1L, small.removeLong(1L, -1L), "removing an entry that cannot exist answers absent");
        } finally {
            small.close();
        }
        final MapEngine<Long, Long> longs = Engines.longToLong(2, 1 << 20);
        try {
            assertEquals(-1L, longs.putLong(1L, 5L, -1L));
            assertEquals(5L, longs.putLong(1L, 6L, -1L));
            assertEquals(10L, longs.addAndGetLong(2L, 10L));
            assertEquals(7L, longs.addAndGetLong(2L, -3L));
            assertEquals(2, longs.size());
            assertEquals(7L, longs.removeLong(2L, -1L));
            assertEquals(1, longs.size());
            longs.checkInvariants();
        } finally {
            longs.close();
        }
    }

    @Test
    void invariantsCatchAnEntryInTheWrongShard() {
        engine.put("a", "1", false);
        final ShardTable shards = engine.shardTable();
        final Shard[] active = shards.layout().active;
        int home = -1;
        for (int i = 0; i < active.length; i++) {
            if (active[i] != null) {
                home = i;
            }
        }
        final Shard shard = active[home];
        final Segment segment = shard.segment;
        final org.agrona.ExpandableArrayBuffer key = new org.agrona.ExpandableArrayBuffer(8);
        key.putStringWithoutLengthUtf8(0, "z");
        // a hash whose shard bits route elsewhere: the other shards are at the other quarters of the high word
        final long foreignHash = ((long) (((home + 2) % 4) * 0x4000_0000 + 0x100) << 32) | 0x1234L;
        final long stamp = shard.writeLock();
        try {
            segment.insert(foreignHash, key, 0, 1, key, 0, 1);
        } finally {
            shard.unlockWrite(stamp);
        }
        shards.added();
        final IllegalStateException e = assertThrows(IllegalStateException.class, engine::checkInvariants);
        assertTrue(e.getMessage().contains("route to another shard"), e.getMessage());
        final long removeStamp = shard.writeLock();
        try {
            segment.removeAt(segment.find(foreignHash, key, 0, 1));
        } finally {
            shard.unlockWrite(removeStamp);
        }
        shards.removed(1);
    }
}
