package io.starshard.replication;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DedupTableTest {
    private static UnsafeBuffer response(int value) {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8]);
        buffer.putInt(0, value);
        buffer.putInt(4, ~value);
        return buffer;
    }

    @Test
    void remembersTheLastWindowOfEachClientAndRefusesWhatItCannotKnow() {
        final DedupTable table = new DedupTable(4, 1_000);
        final DedupTable.Window w = table.window(7, 0);
        assertFalse(table.isApplied(w, 1));
        assertFalse(table.isExpired(w, 1));
        for (int id = 1; id <= 6; id++) {
            table.record(w, id, response(id), 8);
        }
        assertFalse(table.isApplied(w, 1), "overwritten by id 5");
        assertTrue(table.isExpired(w, 2), "older than the window");
        assertTrue(table.isApplied(w, 3));
        final UnsafeBuffer into = new UnsafeBuffer(new byte[8]);
        assertEquals(8, table.storedResponse(w, 6, into));
        assertEquals(6, into.getInt(0));
        assertFalse(table.isApplied(w, 7));
        assertFalse(table.isExpired(w, 7));

        // a client first seen with a number past one window was forgotten: its command may be a resend
        final DedupTable.Window forgotten = table.window(8, 10);
        assertTrue(table.isExpired(forgotten, 5));
        assertFalse(table.isExpired(forgotten, 4));
        assertTrue(table.isExpired(forgotten, 0));
    }

    @Test
    void forgetsSilentClientsByClusterTime() {
        final DedupTable table = new DedupTable(4, 1_000);
        table.record(table.window(1, 0), 1, response(1), 8);
        table.record(table.window(2, 900), 1, response(1), 8);
        table.window(3, 1_500);
        assertEquals(2, table.clientCount(), "client 1, silent since 0, is forgotten at 1,500; 2 is kept");
    }

    @Test
    void snapshotBytesRoundTripAndBadBytesAreRefused() {
        final DedupTable table = new DedupTable(4, 1_000);
        for (long client = 1; client <= 3; client++) {
            final DedupTable.Window w = table.window(client, client);
            for (int id = 1; id <= (int) client * 2; id++) {
                table.record(w, id, response(id), 8);
            }
        }
        final byte[] bytes = table.encode();
        final DedupTable copy = DedupTable.decode(new UnsafeBuffer(bytes), bytes.length, 4);
        assertTrue(copy.sameAs(table));
        assertArrayEquals(bytes, copy.encode());
        assertThrows(IllegalArgumentException.class, () -> DedupTable.decode(new UnsafeBuffer(bytes), bytes.length,
            8), "another window size");
        for (int cut = 0; cut < bytes.length; cut += 3) {
            final int length = cut;
            assertThrows(IllegalArgumentException.class, () -> DedupTable.decode(new UnsafeBuffer(bytes), length, 4),
                "truncated to " + cut);
        }
        final UnsafeBuffer forged = new UnsafeBuffer(bytes.clone());
        forged.putInt(24 + 24, 1_000); // the first client's used-slot count
        assertThrows(IllegalArgumentException.class, () -> DedupTable.decode(forged, bytes.length, 4));
    }
}
