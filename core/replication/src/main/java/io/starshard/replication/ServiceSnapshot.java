package io.starshard.replication;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import io.starshard.ShardedHashMap;
import io.starshard.ShardedHashMapBuilder;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The clustered service's snapshot: the map's raw shard bytes in its saved-file format (versioned, every block
 * checksummed), with the hash seed and the deduplication table, written at one log position and read back before
 * anything in it is trusted. The one place that knows the snapshot's bytes.
 *
 * <pre>
 * Header (first message, 48 bytes, little-endian like CommandFormat):
 *   0  magic          int    0x53535250 ("PRSS")
 *   4  version        int    FORMAT_VERSION
 *   8  hashSeed       long   the map's seed (must equal the file's)
 *   16 dedupLength    long   bytes of the deduplication table that follow
 *   24 mapLength      long   bytes of the saved map that follow those
 *   32 dedupCrc       int    CRC-32C of the deduplication table
 *   36 shardCount     int    the map's shard count at the snapshot (a restart keeps a rebalanced count)
 *   40 headerCrc      int    CRC-32C of bytes 0..39
 *   44 (zero)         int
 * Then dedupLength + mapLength bytes, cut into messages of at most CHUNK bytes. The map part is the file
 * ShardedHashMap.save writes, loaded by ShardedHashMapBuilder.load (which checks its own checksums).
 * </pre>
 */
final class ServiceSnapshot {
    static final int MAGIC = 0x53535250;
    static final int FORMAT_VERSION = 1;
    static final int HEADER_LENGTH = 48;
    /** Message size for the body: below any term length's maximum message, large enough to stream fast. */
    static final int CHUNK = 64 * 1024;
    /** The largest deduplication table accepted (its windows hold at most maxInFlight responses per client). */
    static final long MAX_DEDUP_LENGTH = 1L << 30;

    private ServiceSnapshot() {
    }

    /**
     * Writes the snapshot of {@code map} and {@code dedup} to {@code publication}; the map goes through a file in
     * {@code scratch} (deleted afterwards).
     */
    static void write(ExclusivePublication publication, ShardedHashMap<?, ?> map, DedupTable dedup, Path scratch,
                      IdleStrategy idle) {
        final Path file = scratch.resolve("snapshot-" + System.nanoTime() + ".map");
        try {
            Files.createDirectories(scratch);
            map.save(file);
            final byte[] dedupBytes = dedup.encode();
            final long mapLength = Files.size(file);
            final UnsafeBuffer header = new UnsafeBuffer(new byte[HEADER_LENGTH]);
            header.putInt(0, MAGIC);
            header.putInt(4, FORMAT_VERSION);
            header.putLong(8, map.hashSeed());
            header.putLong(16, dedupBytes.length);
            header.putLong(24, mapLength);
            header.putInt(32, crc(dedupBytes, 0, dedupBytes.length));
            header.putInt(36, map.shardCount());
            header.putInt(40, crc(header.byteArray(), 0, 40));
            offer(publication, header, 0, HEADER_LENGTH, idle);
            final UnsafeBuffer dedupBuffer = new UnsafeBuffer(dedupBytes);
            for (int off = 0; off < dedupBytes.length; off += CHUNK) {
                offer(publication, dedupBuffer, off, Math.min(CHUNK, dedupBytes.length - off), idle);
            }
            final ByteBuffer chunk = BufferUtil.allocateDirectAligned(CHUNK, 64);
            final UnsafeBuffer view = new UnsafeBuffer(chunk);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                long sent = 0;
                while (sent < mapLength) {
                    chunk.clear();
                    final int read = channel.read(chunk, sent);
                    if (read <= 0) {
                        throw new IOException(file + " ended at " + sent + " of " + mapLength + " bytes");
                    }
                    offer(publication, view, 0, read, idle);
                    sent += read;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the map's snapshot", e);
        } finally {
            deleteQuietly(file);
        }
    }

    private static void offer(ExclusivePublication publication, DirectBuffer buffer, int offset, int length,
                              IdleStrategy idle) {
        idle.reset();
        long result;
        while ((result = publication.offer(buffer, offset, length)) < 0) {
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED) {
                throw new IllegalStateException("the snapshot publication refused a message: " + result);
            }
            if (Thread.currentThread().isInterrupted()) {
                throw new IllegalStateException("interrupted while writing a snapshot");
            }
            idle.idle();
        }
    }

    /** What a snapshot held. */
    record Loaded<K, V>(ShardedHashMap<K, V> map, DedupTable dedup) {
    }

    /**
     * Reads a snapshot from {@code image}: the header and the deduplication table are checked before they are used,
     * the map is loaded (and checked block by block) from a file in {@code scratch}.
     *
     * @throws CorruptedSnapshotException if anything does not check, or the image ends early
     */
    static <K, V> Loaded<K, V> read(Image image, ShardedHashMapBuilder<K, V> builder, int windowSize, Path scratch,
                                    IdleStrategy idle) {
        final Path file = scratch.resolve("loading-" + System.nanoTime() + ".map");
        try {
            Files.createDirectories(scratch);
            try (Reader reader = new Reader(file)) {
                final io.aeron.FragmentAssembler assembler = new io.aeron.FragmentAssembler(reader);
                while (!reader.done) {
                    final int fragments = image.poll(assembler, 16);
                    if (reader.failure != null) {
                        throw reader.failure;
                    }
                    if (fragments == 0) {
                        if (image.isEndOfStream() || image.isClosed()) {
                            throw new CorruptedSnapshotException("the snapshot ends after " + reader.received
                                + " bytes of " + reader.expected(), null);
                        }
                        idle.idle();
                    } else {
                        idle.reset();
                    }
                }
                final DedupTable dedup;
                try {
                    dedup = DedupTable.decode(new UnsafeBuffer(reader.dedup), reader.dedup.length, windowSize);
                } catch (IllegalArgumentException e) {
                    throw new CorruptedSnapshotException("the deduplication table does not parse: " + e.getMessage(),
                        e);
                }
                final ShardedHashMap<K, V> map;
                try {
                    map = builder.shards(reader.shardCount).load(file);
                } catch (io.starshard.CorruptedFileException e) {
                    throw new CorruptedSnapshotException("the map in the snapshot is corrupted: " + e.getMessage(), e);
                }
                if (map.hashSeed() != reader.seed) {
                    map.close();
                    throw new CorruptedSnapshotException("the snapshot's header names hash seed " + reader.seed
                        + " and its map was saved with " + map.hashSeed(), null);
                }
                return new Loaded<>(map, dedup);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load the map's snapshot", e);
        } finally {
            deleteQuietly(file);
        }
    }

    /** Receives the snapshot's messages: header, then the table into memory and the map into a file. */
    private static final class Reader implements FragmentHandler, AutoCloseable {
        private final FileChannel channel;
        /** Reused for every message's map bytes on their way to the file. */
        private ByteBuffer chunk = ByteBuffer.allocate(CHUNK);
        private boolean headerRead;
        private long seed;
        private long dedupLength;
        private long mapLength;
        private int dedupCrc;
        private int shardCount;
        private byte[] dedup;
        private long received;
        boolean done;
        CorruptedSnapshotException failure;

        Reader(Path file) throws IOException {
            this.channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        }

        String expected() {
            return headerRead ? String.valueOf(dedupLength + mapLength) : "a header";
        }

        @Override
        public void onFragment(DirectBuffer buffer, int offset, int length, Header header) {
            if (failure != null || done) {
                return;
            }
            try {
                if (!headerRead) {
                    readHeader(buffer, offset, length);
                } else {
                    readBody(buffer, offset, length);
                }
            } catch (CorruptedSnapshotException e) {
                failure = e;
            } catch (IOException e) {
                failure = new CorruptedSnapshotException("cannot write the snapshot's map to a file: " + e, e);
            }
        }

        private void readHeader(DirectBuffer buffer, int offset, int length) {
            if (length != HEADER_LENGTH) {
                throw new CorruptedSnapshotException("the first message is " + length + " bytes, not a "
                    + HEADER_LENGTH + "-byte snapshot header", null);
            }
            final byte[] bytes = new byte[HEADER_LENGTH];
            buffer.getBytes(offset, bytes);
            final UnsafeBuffer h = new UnsafeBuffer(bytes);
            if (h.getInt(0) != MAGIC) {
                throw new CorruptedSnapshotException(String.format("magic 0x%08x is not a map snapshot's 0x%08x",
                    h.getInt(0), MAGIC), null);
            }
            if (h.getInt(40) != crc(bytes, 0, 40)) {
                throw new CorruptedSnapshotException("the header's checksum does not match", null);
            }
            if (h.getInt(4) != FORMAT_VERSION) {
                throw new CorruptedSnapshotException("format version " + h.getInt(4) + " is not this library's "
                    + FORMAT_VERSION, null);
            }
            seed = h.getLong(8);
            dedupLength = h.getLong(16);
            mapLength = h.getLong(24);
            dedupCrc = h.getInt(32);
            shardCount = h.getInt(36);
            if (shardCount < 1 || shardCount > io.starshard.ShardedHashMap.MAX_SHARDS) {
                throw new CorruptedSnapshotException("shard count " + shardCount + " is out of range", null);
            }
            if (dedupLength < 0 || dedupLength > MAX_DEDUP_LENGTH || mapLength < 0) {
                throw new CorruptedSnapshotException("lengths " + dedupLength + " and " + mapLength
                    + " are out of range", null);
            }
            dedup = new byte[(int) dedupLength];
            headerRead = true;
            done = dedupLength + mapLength == 0;
        }

        private void readBody(DirectBuffer buffer, int offset, int length) throws IOException {
            if (received + length > dedupLength + mapLength) {
                throw new CorruptedSnapshotException("more bytes than the header's " + (dedupLength + mapLength),
                    null);
            }
            int consumed = 0;
            if (received < dedupLength) {
                final int n = (int) Math.min(length, dedupLength - received);
                buffer.getBytes(offset, dedup, (int) received, n);
                consumed = n;
                received += n;
                if (received == dedupLength && crc(dedup, 0, dedup.length) != dedupCrc) {
                    throw new CorruptedSnapshotException("the deduplication table's checksum does not match", null);
                }
            }
            if (consumed < length) {
                final int n = length - consumed;
                if (chunk.capacity() < n) {
                    chunk = ByteBuffer.allocate(n);
                }
                chunk.clear();
                buffer.getBytes(offset + consumed, chunk, n);
                chunk.flip();
                while (chunk.hasRemaining()) {
                    channel.write(chunk);
                }
                received += n;
            }
            done = received == dedupLength + mapLength;
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    private static int crc(byte[] bytes, int offset, int length) {
        final CRC32C crc = new CRC32C();
        crc.update(bytes, offset, length);
        return (int) crc.getValue();
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a scratch file left behind is deleted with the node's directory; nothing depends on it
        }
    }
}
