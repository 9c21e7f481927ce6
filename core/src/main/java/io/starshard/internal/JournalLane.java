package io.starshard.internal;

import net.openhft.chronicle.bytes.MappedBytesStore;
import net.openhft.chronicle.bytes.MappedFile;
import net.openhft.chronicle.core.io.ReferenceOwner;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;

import static io.starshard.internal.JournalFormat.*;

/**
 * One lane of a persisted map's journal: an append-only file of {@link JournalFormat} records, written through a
 * Chronicle {@link MappedFile}. Every key's writes go to one lane (chosen by its routing bits), in the order they
 * were made under the key's shard lock, so lanes replay independently.
 *
 * <p>Why a mapped file: a record is in the operating system's page cache as soon as the append's last store has
 * executed, without a system call, so a write that returned survives the death of the process. Why Chronicle's
 * {@code MappedFile}: it maps the file by chunks (a record never straddles two mappings, thanks to the overlap of
 * at least one record) and unmaps them when released rather than when the garbage collector gets round to it.
 *
 * <p>Why the file is grown by writing zeros before it is mapped there: a store into a sparse page that the disk has
 * no room for raises {@code SIGBUS}. Writing zeros makes the file system allocate the blocks first, so a full disk
 * is an {@link IOException} before the write changes the map, never a fault while it appends.
 *
 * <p>Protocol: {@link #tryLock} (under the key's shard lock: it takes the lane's lock, and grows and maps the file so
 * that a record of the given length fits), then the caller changes its segment, then one {@code append}, then
 * {@link #unlock}. Nothing between the lock and the append can fail for want of room.
 */
final class JournalLane {
    /** Bytes each mapping covers (plus the overlap). */
    private static final long CHUNK_BYTES = 8L << 20;
    /** The file grows by at least this much zero-filled space at a time. */
    private static final long GROWTH_BYTES = 64L << 10;
    /** The name a lane's file has until its header is written. */
    static final String CREATING_SUFFIX = ".creating";
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    private final ReentrantLock lock = new ReentrantLock();
    private final Path path;
    private final RandomAccessFile file;
    private final FileChannel channel;
    private final MappedFile mapped;
    private final ReferenceOwner owner;
    private final long overlapBytes;
    private final CRC32C crc = new CRC32C();
    private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[RECORD_HEADER_BYTES]);

    /** The mapping the next record goes into: it covers {@code [storeStart, storeStart + CHUNK + overlap)}. */
    private MappedBytesStore store;
    /** The mapping's memory, from {@code storeStart}: every write is checked against its capacity. */
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private long storeStart = -1;
    /** Where the next record goes. Guarded by {@link #lock}. */
    private long position = FILE_HEADER_BYTES;
    /** The file's bytes up to here are allocated (written zeros or records); appends never pass it. */
    private long allocated;
    /**
     * Record bytes appended since the lane was created; written under the lock, read without it by the checkpoint
     * trigger, for which a value a little stale is good enough.
     */
    private long appended;
    /** Set under the lock when the journal moves to the next generation or closes: no more appends here. */
    private boolean retired;

    /**
     * Creates the lane's file (which must not exist) with its header. The file is prepared under a temporary name
     * and renamed into place, so a process killed meanwhile leaves no lane without a header.
     *
     * @throws IOException if the file cannot be created, grown or mapped
     */
    JournalLane(Path path, int lane, int laneCount, long generation, long hashSeed, int maxEntryBytes)
        throws IOException {
        ChronicleSupport.ensureConfigured();
        this.path = path;
        this.overlapBytes = (maxRecordLength(maxEntryBytes) + 4095L) & ~4095L;
        this.owner = ReferenceOwner.temporary("journal lane " + path.getFileName());
        if (Files.exists(path)) {
            throw new IOException(path + " exists already; a journal lane is only ever created new");
        }
        final Path creating = path.resolveSibling(path.getFileName() + CREATING_SUFFIX);
        Files.deleteIfExists(creating);
        this.file = new RandomAccessFile(creating.toFile(), "rw");
        this.channel = file.getChannel();
        MappedFile m = null;
        try {
            growTo(FILE_HEADER_BYTES + GROWTH_BYTES);
            final UnsafeBuffer header = new UnsafeBuffer(ByteBuffer.allocate(FILE_HEADER_BYTES));
            header.putLong(0, MAGIC, ByteOrder.LITTLE_ENDIAN);
            header.putInt(8, VERSION, ByteOrder.LITTLE_ENDIAN);
            header.putInt(LANE, lane, ByteOrder.LITTLE_ENDIAN);
            header.putLong(GENERATION, generation, ByteOrder.LITTLE_ENDIAN);
            header.putLong(HASH_SEED, hashSeed, ByteOrder.LITTLE_ENDIAN);
            header.putInt(LANE_COUNT, laneCount, ByteOrder.LITTLE_ENDIAN);
            header.putInt(MAX_ENTRY_BYTES, maxEntryBytes, ByteOrder.LITTLE_ENDIAN);
            final byte[] bytes = header.byteArray();
            header.putInt(FILE_HEADER_CRC, MapFileFormat.crc(bytes, 0, FILE_HEADER_CRC), ByteOrder.LITTLE_ENDIAN);
            writeFully(ByteBuffer.wrap(bytes), 0);
            Files.move(creating, path, StandardCopyOption.ATOMIC_MOVE);
            m = MappedFile.of(path.toFile(), CHUNK_BYTES, overlapBytes, false);
            m.singleThreadedCheckDisabled(true);
            this.mapped = m;
            mapFor(FILE_HEADER_BYTES);
        } catch (IOException | RuntimeException e) {
            if (m != null) {
                m.releaseLast();
            }
            file.close();
            throw e;
        }
    }

    /**
     * Locks the lane for one append of at most {@code recordLength} bytes, growing and mapping the file first.
     *
     * @param nonBlocking throw {@link WouldBlock} if the lock is taken rather than wait
     *
     * @return false if the lane is retired (the caller takes the journal's current lane instead); then the lane
     *         is not locked
     * @throws UncheckedIOException if the file cannot grow (disk full): nothing was changed
     */
    boolean tryLock(int recordLength, boolean nonBlocking) {
        if (!nonBlocking) {
            lock.lock();
        } else if (!lock.tryLock()) {
            throw WouldBlock.INSTANCE;
        }
        if (retired) {
            lock.unlock();
            return false;
        }
        try {
            ensureRoom(recordLength);
            return true;
        } catch (IOException e) {
            lock.unlock();
            throw new UncheckedIOException("the persisted map's journal " + path + " cannot grow by "
                + recordLength + " bytes; nothing was written: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            lock.unlock();
            throw e;
        }
    }

    void unlock() {
        lock.unlock();
    }

    /** Appends "the key now has this value". Lane locked by {@link #tryLock} for at least this record. */
    void appendPut(byte[] key, int keyLength, byte[] value, int valueLength) {
        append(PUT, key, keyLength, value, valueLength);
    }

    /** Appends "the key is absent". Lane locked by {@link #tryLock} for at least this record. */
    void appendRemove(byte[] key, int keyLength) {
        append(REMOVE, key, keyLength, null, 0);
    }

    /** Appends "every key routed into {@code [from, to)} is absent". Lane locked for at least this record. */
    void appendRange(long from, long to, byte[] bounds) {
        final UnsafeBuffer b = new UnsafeBuffer(bounds);
        b.putLong(0, from, ByteOrder.LITTLE_ENDIAN);
        b.putLong(8, to, ByteOrder.LITTLE_ENDIAN);
        append(RANGE, null, 0, bounds, RANGE_BYTES);
    }

    private void append(int kind, byte[] key, int keyLength, byte[] value, int valueLength) {
        final long at = position;
        final int length = recordLength(keyLength, valueLength);
        scratch.putInt(KIND - CHECKED_FROM, kind, ByteOrder.LITTLE_ENDIAN);
        scratch.putInt(KEY_LENGTH - CHECKED_FROM, keyLength, ByteOrder.LITTLE_ENDIAN);
        scratch.putInt(VALUE_LENGTH - CHECKED_FROM, valueLength, ByteOrder.LITTLE_ENDIAN);
        final byte[] header = scratch.byteArray();
        final int headerBytes = RECORD_HEADER_BYTES - CHECKED_FROM;
        final int offset = (int) (at - storeStart);
        crc.reset();
        crc.update(header, 0, headerBytes);
        view.putBytes(offset + CHECKED_FROM, header, 0, headerBytes);
        if (keyLength > 0) {
            crc.update(key, 0, keyLength);
            view.putBytes(offset + RECORD_HEADER_BYTES, key, 0, keyLength);
        }
        if (valueLength > 0) {
            crc.update(value, 0, valueLength);
            view.putBytes(offset + RECORD_HEADER_BYTES + keyLength, value, 0, valueLength);
        }
        // Last, and ordered after the bytes above: the word that makes the record part of the lane.
        view.putLongRelease(offset, (crc.getValue() << 32) | length);
        position = at + length;
        appended += length;
    }

    /** Record bytes appended so far. */
    long appendedBytes() {
        return appended;
    }

    /** Forces the lane's appended records to the storage device (for a power loss; a process crash needs nothing). */
    void force() throws IOException {
        lock.lock();
        try {
            if (!retired) {
                channel.force(false);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Locks the lane for good: later {@link #tryLock} calls return false. Call {@link #release} when every lane of
     * the generation is retired.
     */
    void retire() {
        lock.lock();
        retired = true;
    }

    /** Unmaps and closes a retired lane, forcing nothing, and unlocks it. Idempotent. */
    void release() {
        try {
            view.wrap(new byte[0]);
            if (store != null) {
                store.release(owner);
                store = null;
            }
            if (mapped.refCount() > 0) {
                mapped.releaseLast();
            }
            // The mapping extended the file, sparse, to the end of its chunk; cut it back to what was written so
            // that the file's size is its content (copies and backups of the directory stay small).
            if (allocated > 0 && channel.isOpen() && channel.size() > allocated) {
                channel.truncate(allocated);
            }
            file.close();
        } catch (IOException | RuntimeException e) {
            System.getLogger("io.starshard.ShardedHashMap").log(System.Logger.Level.WARNING,
                "closing journal lane " + path + " failed", e);
        } finally {
            if (lock.isHeldByCurrentThread()) {
                lock.unlock();
            }
        }
    }

    private void ensureRoom(int recordLength) throws IOException {
        final long end = position + recordLength;
        // Room for the record and the zero word after it that marks the lane's end: a lane whose file ends
        // without one was cut short, which the reader rejects rather than mistake for an end.
        if (end + Long.BYTES > allocated) {
            growTo(Math.max(end + Long.BYTES, allocated + GROWTH_BYTES));
        }
        if (position >= storeStart + CHUNK_BYTES || end - storeStart > view.capacity()) {
            mapFor(position);
        }
        if (end - storeStart > view.capacity()) {
            throw new IOException("a record of " + recordLength + " bytes at " + position + " does not fit the"
                + " mapping of [" + storeStart + ", " + (storeStart + view.capacity()) + ")");
        }
    }

    /** Maps the chunk that {@code at} lies in; a record of up to the overlap starting there fits. */
    private void mapFor(long at) throws IOException {
        // The mapping may reach past the allocated part of the file (Chronicle extends the file, sparse, to the end
        // of the chunk): harmless, since only allocated bytes are ever written.
        final MappedBytesStore next = mapped.acquireByteStore(owner, at);
        next.singleThreadedCheckDisabled(true);
        if (store != null) {
            store.release(owner);
        }
        store = next;
        storeStart = next.start();
        // Bounds-checked access to exactly the mapped chunk and its overlap (capacity() is an absolute offset).
        view.wrap(next.addressForWrite(storeStart), (int) Math.min(Integer.MAX_VALUE, next.capacity() - storeStart));
    }

    /** Allocates the file up to {@code end} by writing zeros after what is allocated. */
    private void growTo(long end) throws IOException {
        // From what this lane wrote itself: beyond it the file may be longer, but sparse (the mapping extends it).
        long at = allocated;
        while (at < end) {
            final ByteBuffer zeros = ZEROS.duplicate();
            zeros.limit((int) Math.min(zeros.capacity(), end - at));
            at += writeFully(zeros, at);
        }
        allocated = at;
    }

    private int writeFully(ByteBuffer buffer, long at) throws IOException {
        final int length = buffer.remaining();
        long p = at;
        while (buffer.hasRemaining()) {
            p += channel.write(buffer, p);
        }
        return length;
    }
}
