package io.starshard;

import io.starshard.offheap.OffHeapMemory;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LeakCleanerTest {

    @Test
    void anUnreachableUnclosedMapIsFreedWithAWarningNamingWhereItWasCreated() throws InterruptedException {
        final List<LogRecord> warnings = new CopyOnWriteArrayList<>();
        final Logger logger = Logger.getLogger("io.starshard.ShardedHashMap");
        final Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(record);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(handler);
        try {
            final OffHeapMemory memory = fillAndForget();
            assertTrue(memory.usedBytes() > 0);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (memory.usedBytes() != 0 && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(20);
            }
            assertEquals(0, memory.usedBytes(), "the cleaner freed the unreachable map's memory");
            assertEquals(0, memory.liveAllocations());
            assertTrue(warnings.stream().anyMatch(r -> r.getMessage().contains("was not closed")
                && r.getThrown() != null && stackNames(r.getThrown(), "fillAndForget")), "warning: " + warnings);
        } finally {
            logger.removeHandler(handler);
        }
    }

    @Test
    void aClosedMapIsNotReportedAsALeak() throws InterruptedException {
        final OffHeapMemory memory;
        try (ShardedHashMap<Long, String> map = ShardedHashMap.create(Long.class, String.class)) {
            map.put(1L, "x");
            memory = map.memoryAccountant();
        }
        assertEquals(0, memory.usedBytes());
    }

    /** Builds and fills a map, and lets it go without closing it; returns only its memory accountant. */
    private static OffHeapMemory fillAndForget() {
        final ShardedHashMap<Long, String> map = ShardedHashMap.create(Long.class, String.class);
        for (long i = 0; i < 10_000; i++) {
            map.put(i, "value " + i);
        }
        return map.memoryAccountant();
    }

    private static boolean stackNames(Throwable t, String method) {
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getMethodName().equals(method)) {
                return true;
            }
        }
        return false;
    }
}
