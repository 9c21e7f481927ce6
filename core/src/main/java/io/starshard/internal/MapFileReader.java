package io.starshard.internal;

import io.starshard.CorruptedFileException;
import io.starshard.PersistenceListener;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.RecordDescriptor;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static io.starshard.internal.MapFileFormat.*;

/**
 * Reads a file in {@link MapFileFormat}, checking every byte before it is trusted: sizes and offsets against the
 * file's length, checksums, the order of the blocks, each record's lengths, routing and stored hash (a hash that
 * does not match its key would make the key unreachable, or for fixed-width keys, which are stored as their hash,
 * a different key).
 *
 * <p>Why through a read-only mapping of the whole file ({@link ReadOnlyMapping}, Chronicle's {@code MappedFile}): blocks are checked (checksum,
 * records) and then imported straight from the mapping, with no copy to the heap, so a block of any size costs no
 * heap. Every region is wrapped in a bounds-checked {@link UnsafeBuffer} whose bounds were checked against the
 * file's length first. If another process truncates the file while it is being read, the JVM turns the fault of
 * reading past the end into an {@link InternalError}, reported as a corrupted file.
 */
public final class MapFileReader implements AutoCloseable {
    /** What the header says. */
    public static final class Header {
        final long seed;
        final int shardCount;
        final int maxEntryBytes;
        final long entries;
        final int blocks;
        final String keyId;
        final String valueId;
        final int length;

        Header(long seed, int shardCount, int maxEntryBytes, long entries, int blocks, String keyId,
               String valueId, int length) {
            this.seed = seed;
            this.shardCount = shardCount;
            this.maxEntryBytes = maxEntryBytes;
            this.entries = entries;
            this.blocks = blocks;
            this.keyId = keyId;
            this.valueId = valueId;
            this.length = length;
        }

        /**
         * Returns the hash seed the entries were hashed with.
         *
         * @return the hash seed the entries were hashed with
         */
        public long seed() {
            return seed;
        }

        /**
         * Returns the entries the file holds.
         *
         * @return the entries the file holds
         */
        public long entries() {
            return entries;
        }

        /**
         * Returns the shard count of the saved map.
         *
         * @return the shard count of the saved map
         */
        public int shardCount() {
            return shardCount;
        }
    }

    private final String name;
    private final long size;
    private final ReadOnlyMapping bytes;
    private final long base;
    private final Header header;

    /**
     * Maps the file and checks its header and footer.
     *
     * @param file the saved map
     * @throws IOException if it cannot be read
     * @throws CorruptedFileException if they are not what the format says
     */
    public MapFileReader(Path file) throws IOException {
        ChronicleSupport.ensureConfigured();
        this.name = file.toString();
        this.size = Files.size(file);
        final int minimum = headerLength(0, 0) + FOOTER_BYTES;
        if (size < minimum) {
            throw corrupted(0, "the file has " + size + " bytes, fewer than the " + minimum + " of an empty map");
        }
        this.bytes = new ReadOnlyMapping(file, size);
        try {
            this.base = bytes.address();
            this.header = readHeader();
            checkFooter();
        } catch (InternalError e) {
            bytes.close();
            throw corrupted(0, "the file changed while it was read");
        } catch (IOException | RuntimeException e) {
            bytes.close();
            throw e;
        }
    }

    /**
     * Returns the checked header.
     *
     * @return the checked header
     */
    public Header header() {
        return header;
    }

    private UnsafeBuffer region(long offset, long length, String what) throws CorruptedFileException {
        if (offset < 0 || length < 0 || length > Integer.MAX_VALUE || offset > size - length) {
            throw corrupted(offset, what + " of " + length + " bytes does not fit in the file of " + size + " bytes");
        }
        return new UnsafeBuffer(base + offset, (int) length);
    }

    private Header readHeader() throws CorruptedFileException {
        final UnsafeBuffer fixed = region(0, HEADER_FIXED_BYTES, "the header");
        if (fixed.getLong(0, ByteOrder.LITTLE_ENDIAN) != MAGIC) {
            throw corrupted(0, "no map file magic number");
        }
        final int version = fixed.getInt(8, ByteOrder.LITTLE_ENDIAN);
        if (version != VERSION) {
            throw corrupted(8, "format version " + version + "; this library reads version " + VERSION);
        }
        final int length = fixed.getInt(HEADER_LENGTH, ByteOrder.LITTLE_ENDIAN);
        final int keyIdLength = fixed.getShort(KEY_ID_LENGTH, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int valueIdLength = fixed.getShort(VALUE_ID_LENGTH, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        if (length > MAX_HEADER_BYTES || length != headerLength(keyIdLength, valueIdLength)) {
            throw corrupted(HEADER_LENGTH, "header length " + length + " does not match its codec names ("
                + keyIdLength + " and " + valueIdLength + " bytes) or exceeds " + MAX_HEADER_BYTES);
        }
        final UnsafeBuffer h = region(0, length, "the header");
        final byte[] copy = new byte[length];
        h.getBytes(0, copy);
        if (crc(copy, 0, length - Integer.BYTES) != h.getInt(length - Integer.BYTES, ByteOrder.LITTLE_ENDIAN)) {
            throw corrupted(length - Integer.BYTES, "the header's checksum does not match");
        }
        final int shardCount = h.getInt(SHARD_COUNT, ByteOrder.LITTLE_ENDIAN);
        final int maxEntryBytes = h.getInt(MAX_ENTRY_BYTES, ByteOrder.LITTLE_ENDIAN);
        final long entries = h.getLong(ENTRY_COUNT, ByteOrder.LITTLE_ENDIAN);
        final int blocks = h.getInt(BLOCK_COUNT, ByteOrder.LITTLE_ENDIAN);
        if (shardCount < 1 || maxEntryBytes < 1 || entries < 0 || blocks < 1) {
            throw corrupted(SHARD_COUNT, "header declares " + shardCount + " shards, " + maxEntryBytes
                + " bytes per entry, " + entries + " entries, " + blocks + " blocks");
        }
        return new Header(h.getLong(HASH_SEED, ByteOrder.LITTLE_ENDIAN), shardCount, maxEntryBytes, entries, blocks,
            new String(copy, HEADER_FIXED_BYTES, keyIdLength, StandardCharsets.UTF_8),
            new String(copy, HEADER_FIXED_BYTES + keyIdLength, valueIdLength, StandardCharsets.UTF_8), length);
    }

    private void checkFooter() throws CorruptedFileException {
        final long at = size - FOOTER_BYTES;
        final UnsafeBuffer f = region(at, FOOTER_BYTES, "the footer");
        final byte[] copy = new byte[FOOTER_BYTES];
        f.getBytes(0, copy);
        if (f.getInt(0, ByteOrder.LITTLE_ENDIAN) != FOOTER_MAGIC
            || crc(copy, 0, FOOTER_CRC) != f.getInt(FOOTER_CRC, ByteOrder.LITTLE_ENDIAN)) {
            throw corrupted(at, "no valid footer: the file is truncated or was not completely written");
        }
        if (f.getInt(FOOTER_BLOCK_COUNT, ByteOrder.LITTLE_ENDIAN) != header.blocks
            || f.getLong(FOOTER_ENTRY_COUNT, ByteOrder.LITTLE_ENDIAN) != header.entries) {
            throw corrupted(at, "the footer's block and entry counts differ from the header's");
        }
    }

    /**
     * Fills a new, empty map from this file: checks its codecs, then every block before importing it.
     *
     * @param engine   the map's engine, reachable by no other thread yet
     * @param listener progress, or null
     * @throws IOException              if the file is corrupted ({@code CorruptedFileException}) or unreadable
     * @throws IllegalArgumentException if it was saved with other codecs
     */
    public void loadInto(MapEngine<?, ?> engine, PersistenceListener listener) throws IOException {
        engine.checkUsable();
        checkCodecs(engine.codec());
        loadInto(engine.shardTable(), engine.codec(), listener);
    }

    /**
     * Checks that the file's codecs are the loading map's.
     *
     * @throws IllegalArgumentException naming both if not
     */
    void checkCodecs(EntryCodec<?, ?> codec) {
        if (!header.keyId.equals(codec.keyCodecIdentity()) || !header.valueId.equals(codec.valueCodecIdentity())) {
            throw new IllegalArgumentException(name + " holds keys encoded by " + header.keyId + " and values by "
                + header.valueId + "; the map being loaded uses " + codec.keyCodecIdentity() + " and "
                + codec.valueCodecIdentity() + ": build it with the codecs the file was saved with");
        }
    }

    /**
     * Checks every block and imports it into {@code shards}, which no other thread can reach yet.
     *
     * @throws CorruptedFileException at the first problem (the caller discards the map)
     */
    void loadInto(ShardTable shards, EntryCodec<?, ?> codec, PersistenceListener listener) throws IOException {
        try {
            final long[] blocks = checkLayout();
            importBlocks(blocks, shards, codec, listener);
            if (shards.size() != header.entries) {
                throw corrupted(size - FOOTER_BYTES, "the file holds " + header.entries + " records but only "
                    + shards.size() + " distinct keys");
            }
        } catch (InternalError e) {
            throw corrupted(0, "the file changed while it was read (" + e.getMessage() + ")");
        }
    }

    /** A block's place, as {@link #checkLayout} finds it: {@link #BLOCK_FIELDS} longs per block. */
    private static final int BLOCK_FIELDS = 3;

    /**
     * The first pass, before anything is imported: every block header (magic, CRC), that the blocks tile the hash
     * space in order, lie inside the file and end where the footer begins, and that their counts add up to the
     * header's.
     *
     * @return per block: its header's offset, its payload length, its record count
     */
    private long[] checkLayout() throws CorruptedFileException {
        final long[] blocks = new long[header.blocks * BLOCK_FIELDS];
        long at = header.length;
        long expectedFrom = 0;
        long records = 0;
        final byte[] copy = new byte[BLOCK_HEADER_BYTES];
        for (int b = 0; b < header.blocks; b++) {
            final UnsafeBuffer h = region(at, BLOCK_HEADER_BYTES, "block " + b + "'s header");
            h.getBytes(0, copy);
            if (h.getInt(0, ByteOrder.LITTLE_ENDIAN) != BLOCK_MAGIC
                || crc(copy, 0, BLOCK_CRC) != h.getInt(BLOCK_CRC, ByteOrder.LITTLE_ENDIAN)) {
                throw corrupted(at, "block " + b + " has no valid header");
            }
            final int count = h.getInt(BLOCK_RECORD_COUNT, ByteOrder.LITTLE_ENDIAN);
            final long from = h.getLong(BLOCK_ROUTING_FROM, ByteOrder.LITTLE_ENDIAN);
            final long to = h.getLong(BLOCK_ROUTING_TO, ByteOrder.LITTLE_ENDIAN);
            final int length = h.getInt(BLOCK_PAYLOAD_LENGTH, ByteOrder.LITTLE_ENDIAN);
            if (from != expectedFrom || to <= from || to > ROUTING_END || count < 0) {
                throw corrupted(at, "block " + b + " covers [" + from + ", " + to + ") with " + count
                    + " records; the blocks must cover the hash space in order from " + expectedFrom);
            }
            region(at + BLOCK_HEADER_BYTES, length, "block " + b + "'s records");   // inside the file
            blocks[b * BLOCK_FIELDS] = at;
            blocks[b * BLOCK_FIELDS + 1] = length;
            blocks[b * BLOCK_FIELDS + 2] = count;
            records += count;
            at += BLOCK_HEADER_BYTES + length;
            expectedFrom = to;
        }
        if (expectedFrom != ROUTING_END || at != size - FOOTER_BYTES || records != header.entries) {
            throw corrupted(at, "the blocks end at routing " + expectedFrom + " and byte " + at + " with "
                + records + " entries; the header and footer say " + header.entries + " entries up to byte "
                + (size - FOOTER_BYTES));
        }
        return blocks;
    }

    /** The most threads a load checks and imports blocks on, the loading thread included. */
    private static final int MAX_LOAD_THREADS = 4;

    /**
     * The second pass: each block's checksum and records are checked and the block imported, on the loading
     * thread and up to three threads of the load's own (blocks go to whichever thread is free; shards lock as
     * usual, so two blocks feeding one shard are safe). Progress is reported on the loading thread. The first
     * failure stops every thread and is thrown once all have stopped.
     *
     * <p>Why threads of its own rather than a shared pool: a library call must not depend on the state of a pool
     * its caller also uses (a common pool with no free worker would never run the load's tasks).
     */
    private void importBlocks(long[] blocks, ShardTable shards, EntryCodec<?, ?> codec, PersistenceListener listener)
        throws IOException {
        final int count = blocks.length / BLOCK_FIELDS;
        final int helpers = Math.min(Math.min(MAX_LOAD_THREADS, Runtime.getRuntime().availableProcessors()), count) - 1;
        final java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicLong loaded = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        final Thread[] threads = new Thread[Math.max(0, helpers)];
        for (int t = 0; t < threads.length; t++) {
            threads[t] = new Thread(() -> importSome(blocks, next, loaded, failure, shards, codec, null),
                "starshard-load-" + t);
            threads[t].setDaemon(true);
            threads[t].start();
        }
        importSome(blocks, next, loaded, failure, shards, codec, listener);
        boolean interrupted = false;
        for (Thread thread : threads) {
            while (true) {
                try {
                    thread.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;   // the helpers must end before the map may be discarded
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        final Throwable first = failure.get();
        if (first instanceof IOException) {
            throw (IOException) first;
        } else if (first instanceof RuntimeException) {
            throw (RuntimeException) first;
        } else if (first instanceof Error) {
            throw (Error) first;
        }
        if (listener != null) {
            listener.progress(loaded.get(), header.entries, size);
        }
    }

    private void importSome(long[] blocks, java.util.concurrent.atomic.AtomicInteger next,
                            java.util.concurrent.atomic.AtomicLong loaded,
                            java.util.concurrent.atomic.AtomicReference<Throwable> failure, ShardTable shards,
                            EntryCodec<?, ?> codec, PersistenceListener listener) {
        final int count = blocks.length / BLOCK_FIELDS;
        try {
            for (int b = next.getAndIncrement(); b < count && failure.get() == null; b = next.getAndIncrement()) {
                final long at = blocks[b * BLOCK_FIELDS];
                final int length = (int) blocks[b * BLOCK_FIELDS + 1];
                final int records = (int) blocks[b * BLOCK_FIELDS + 2];
                final UnsafeBuffer h = region(at, BLOCK_HEADER_BYTES, "block " + b + "'s header");
                final long payloadAt = at + BLOCK_HEADER_BYTES;
                final UnsafeBuffer payload = region(payloadAt, length, "block " + b + "'s records");
                if (checksum(payload, length) != h.getInt(BLOCK_PAYLOAD_CRC, ByteOrder.LITTLE_ENDIAN)) {
                    throw corrupted(payloadAt, "block " + b + "'s checksum does not match its records");
                }
                checkRecords(payload, length, records, h.getLong(BLOCK_ROUTING_FROM, ByteOrder.LITTLE_ENDIAN),
                    h.getLong(BLOCK_ROUTING_TO, ByteOrder.LITTLE_ENDIAN), codec, payloadAt);
                shards.importRecords(payload, 0, length, header.entries);
                final long done = loaded.addAndGet(records);
                if (listener != null) {
                    listener.progress(done, header.entries, payloadAt + length);
                }
            }
        } catch (InternalError e) {
            failure.compareAndSet(null, corrupted(0, "the file changed while it was read (" + e.getMessage() + ")"));
        } catch (IOException | RuntimeException | Error e) {
            failure.compareAndSet(null, e);
        }
    }

    private static int checksum(DirectBuffer payload, int length) {
        final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        final byte[] chunk = new byte[Math.min(length, 1 << 16)];
        for (int done = 0; done < length; ) {
            final int n = Math.min(chunk.length, length - done);
            payload.getBytes(done, chunk, 0, n);
            crc.update(chunk, 0, n);
            done += n;
        }
        return (int) crc.getValue();
    }

    private void checkRecords(DirectBuffer records, int length, int count, long from, long to,
                              EntryCodec<?, ?> codec, long fileOffset) throws CorruptedFileException {
        final int keyWidth = codec.keyWidth();
        final int valueWidth = codec.valueWidth();
        int seen = 0;
        for (int at = 0; at < length; seen++) {
            final int recordLength;
            try {
                recordLength = RecordDescriptor.checkedRecordLength(records, at, length);
            } catch (IllegalArgumentException e) {
                throw corrupted(fileOffset + at, e.getMessage());
            }
            final int keyLength = RecordDescriptor.keyLength(records, at);
            final int valueLength = RecordDescriptor.valueLength(records, at);
            final long hash = RecordDescriptor.hash(records, at);
            final long routing = KeyHasher.routingBits(hash);
            if ((keyWidth > 0 && keyLength != keyWidth) || (valueWidth > 0 && valueLength != valueWidth)
                || keyLength == 0 || (long) keyLength + valueLength > codec.maxEntryBytes()) {
                throw corrupted(fileOffset + at, "record with a " + keyLength + "-byte key and a " + valueLength
                    + "-byte value: this map stores keys of " + width(keyWidth) + ", values of "
                    + width(valueWidth) + ", at most " + codec.maxEntryBytes() + " bytes per entry");
            }
            if (routing < from || routing >= to) {
                throw corrupted(fileOffset + at, "record outside its block's hash range");
            }
            if (codec.hashOf(records, RecordDescriptor.keyOffset(at), keyLength) != hash) {
                throw corrupted(fileOffset + at, "record whose stored hash is not its key's");
            }
            at += recordLength;
        }
        if (seen != count) {
            throw corrupted(fileOffset, "block declares " + count + " records and holds " + seen);
        }
    }

    private static String width(int width) {
        return width > 0 ? width + " bytes" : "any length";
    }

    private CorruptedFileException corrupted(long offset, String what) {
        return new CorruptedFileException(name, offset, what);
    }

    @Override
    public void close() {
        bytes.close();
    }
}
