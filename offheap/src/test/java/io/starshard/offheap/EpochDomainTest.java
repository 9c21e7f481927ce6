package io.starshard.offheap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A reclaimer that never sees a section end would make synchronize() hang: the timeout turns that into a failure. */
@Timeout(60)
class EpochDomainTest {
    private final EpochDomain domain = new EpochDomain();
    private final OffHeapMemory memory = OffHeapMemory.unlimited();

    private void retireBlock(int bytes) {
        domain.retire(memory, memory.allocate(bytes, "test"), bytes);
    }

    /** Starts a thread that enters a section and stays inside until {@code release}; returns once it is in. */
    private Thread readerInSectionUntil(CountDownLatch release) throws InterruptedException {
        CountDownLatch entered = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            EpochDomain.Reader r = domain.reader();
            r.enter();
            try {
                entered.countDown();
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                r.exit();
            }
        });
        reader.start();
        assertTrue(entered.await(30, TimeUnit.SECONDS));
        return reader;
    }

    @Test
    void retiredMemoryWithoutReadersIsFreedAtOnce() {
        retireBlock(64);
        assertEquals(0, memory.usedBytes());
        assertEquals(0, memory.liveAllocations());
        assertFalse(domain.hasPending());
    }

    @Test
    void memoryRetiredDuringASectionWaitsForItsEndAndSectionsNest() {
        EpochDomain.Reader reader = domain.reader();
        reader.enter();
        reader.enter();
        assertTrue(reader.inSection());
        retireBlock(100);
        assertEquals(100, memory.usedBytes());
        assertEquals(0, domain.reclaim());
        reader.exit();
        assertTrue(reader.inSection(), "inner exit keeps the outer section");
        assertEquals(0, domain.reclaim());
        assertEquals(100, memory.usedBytes());
        reader.exit();
        assertFalse(reader.inSection());
        domain.reclaim();   // or the releaser thread got there first
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void memoryHeldByAReaderComesBackAfterItLeavesWithoutAnyFurtherCall() throws Exception {
        final CountDownLatch release = new CountDownLatch(1);
        final Thread reader = readerInSectionUntil(release);
        retireBlock(256);             // the last retire: nothing after it would reclaim
        assertEquals(256, memory.usedBytes(), "freed while a reader could still be inside");
        release.countDown();
        reader.join();
        final long deadline = System.nanoTime() + 30_000_000_000L;
        while (memory.usedBytes() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(0, memory.usedBytes(), "the releaser thread frees retired memory once its last reader left");
        assertFalse(domain.hasPending());
    }

    @Test
    void aLaterSectionOfTheSameReaderDoesNotHoldBackWhatAnEarlierOneSaw() {
        EpochDomain.Reader reader = domain.reader();
        reader.enter();
        retireBlock(48);              // held by this section
        reader.exit();
        reader.enter();               // a new outer section: it cannot hold the old table
        try {
            domain.reclaim();   // or the releaser thread got there first
            assertEquals(0, memory.usedBytes());
            retireBlock(8);           // but this one is held by the new section
            assertEquals(8, memory.usedBytes());
        } finally {
            reader.exit();
        }
        domain.reclaim();   // or the releaser thread got there first
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void synchronizeWaitsForASectionEvenWithNothingRetired() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Thread reader = readerInSectionUntil(release);
        Thread closer = new Thread(domain::synchronize);
        closer.start();
        closer.join(100);   // not a timing assertion: it cannot finish while the reader is inside
        assertTrue(closer.isAlive(), "synchronize returned while a section open at its start was still open");
        release.countDown();
        closer.join();
        reader.join();
    }

    @Test
    void aSectionOpenedAfterTheRetireDoesNotHoldItBack() throws Exception {
        EpochDomain.Reader reader = domain.reader();
        reader.enter();
        retireBlock(8);               // retired while this reader is in: held
        Thread other = new Thread(() -> {
            EpochDomain.Reader late = domain.reader();
            late.enter();             // a section the retire did not note
            try {
                retireBlock(16);      // held by the first reader only
            } finally {
                late.exit();
            }
        });
        other.start();
        other.join();
        assertEquals(24, memory.usedBytes());
        reader.exit();
        domain.reclaim();
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void synchronizeWaitsForOpenSectionsOnly() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Thread reader = readerInSectionUntil(release);
        retireBlock(32);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread closer = new Thread(() -> {
            try {
                domain.synchronize();
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        closer.start();
        closer.join(100);   // not a timing assertion: it cannot finish while the reader is inside
        assertTrue(closer.isAlive(), "synchronize returned while a section that saw the retire was open");
        assertEquals(32, memory.usedBytes());
        release.countDown();
        closer.join();
        reader.join();
        assertNull(failure.get());
        assertEquals(0, memory.usedBytes());
        assertEquals(0, memory.liveAllocations());
    }

    @Test
    void synchronizeInsideASectionAndUnbalancedExitAreErrors() {
        EpochDomain.Reader reader = domain.reader();
        reader.enter();
        try {
            assertThrows(IllegalStateException.class, domain::synchronize);
        } finally {
            reader.exit();
        }
        assertThrows(IllegalStateException.class, reader::exit);
        assertFalse(reader.inSection());
        reader.enter();   // still usable after the error
        reader.exit();
        domain.synchronize();
    }

    @Test
    void eachThreadHasItsOwnReader() throws Exception {
        EpochDomain.Reader mine = domain.reader();
        assertTrue(mine == domain.reader());
        AtomicReference<EpochDomain.Reader> theirs = new AtomicReference<>();
        Thread t = new Thread(() -> theirs.set(domain.reader()));
        t.start();
        t.join();
        assertFalse(mine == theirs.get());
        assertTrue(domain.registeredReaders() >= 2);
        assertTrue(EpochDomain.shared() == EpochDomain.shared());
    }

    /**
     * A service that starts a thread per task (or, on JDK 21+, a virtual thread per task) registers a reader per
     * thread. Nothing is retired here, so the pruning that {@code reclaim} does never runs: registration itself
     * must drop finished threads, or the registry (and the copy each registration makes of it) grows with every
     * thread that ever read.
     */
    @Test
    void finishedThreadsDoNotAccumulateInTheRegistryWithoutAnyRetire() throws Exception {
        final int threads = 3_000;
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                EpochDomain.Reader r = domain.reader();
                r.enter();
                r.exit();
            });
            t.start();
            t.join();
        }
        assertFalse(domain.hasPending());
        int registered = domain.registeredReaders();
        assertTrue(registered <= 2 * EpochDomain.MIN_PRUNE_THRESHOLD,
            "readers of " + threads + " finished threads should have been pruned, registry holds " + registered);

        // A reader of a live thread survives pruning and still holds back what it may read.
        CountDownLatch release = new CountDownLatch(1);
        Thread inside = readerInSectionUntil(release);
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> domain.reader().enter());   // dies inside a section: counts as ended
            t.start();
            t.join();
        }
        retireBlock(72);
        assertEquals(72, memory.usedBytes(), "the live reader's section must still hold the block");
        release.countDown();
        inside.join();
        domain.synchronize();
        assertEquals(0, memory.usedBytes());
        assertTrue(domain.registeredReaders() <= 2 * EpochDomain.MIN_PRUNE_THRESHOLD);
    }

    @Test
    void aReaderOfAnotherDomainDoesNotHoldThisOne() {
        EpochDomain other = new EpochDomain();
        other.reader().enter();
        try {
            retireBlock(40);
            assertEquals(0, memory.usedBytes());
        } finally {
            other.reader().exit();
        }
    }

    @Test
    void largeBlocksAreFreedByTheReleaserAndSynchronizeWaitsForThem() throws InterruptedException {
        final EpochDomain domain = new EpochDomain();
        final OffHeapMemory memory = OffHeapMemory.unlimited();
        final long bytes = EpochDomain.ASYNC_FREE_BYTES * 4;
        final long small = 4096;
        domain.retire(memory, memory.allocate(small, "small"), small);
        assertEquals(0, memory.usedBytes(), "a small block is freed by the retiring thread at once");
        for (int i = 0; i < 8; i++) {
            domain.retire(memory, memory.allocate(bytes, "large"), bytes);
        }
        final long deadline = System.nanoTime() + 30_000_000_000L;
        while (memory.usedBytes() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(0, memory.usedBytes(), "the releaser thread freed the large blocks");
        for (int i = 0; i < 8; i++) {
            domain.retire(memory, memory.allocate(bytes, "large"), bytes);
        }
        domain.synchronize();
        assertEquals(0, memory.usedBytes(), "synchronize returns only once every retired block is freed");
        assertEquals(0, memory.liveAllocations());
    }
}
