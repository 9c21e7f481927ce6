package io.starshard.internal;

import io.starshard.PersistenceListener;
import net.openhft.chronicle.bytes.MappedBytes;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

import static io.starshard.internal.MapFileFormat.*;

/**
 * Writes a map to a file in {@link MapFileFormat}: header, one block per shard range (its raw records, exported
 * under the range's read locks as the iterators export them, so the image is per-shard consistent and a rebalance
 * running meanwhile neither drops nor repeats a key), footer.
 *
 * <p>Why this way. The file is written to a temporary file beside the target, forced to disk, and renamed over
 * the target atomically, so a crash mid-save leaves the previous file whole. The bytes go through a Chronicle
 * {@link MappedBytes} of the temporary file: writing into mapped memory costs no system call per block, and the
 * mapping grows by chunks as the file does. The entry count in the header is the one the blocks hold, which is
 * known only at the end: the header is written last, at offset 0.
 */
public final class MapFileWriter {
    /** Chunk in which the mapping of the file being written grows. */
    private static final long CHUNK_BYTES = 64L << 20;

    private MapFileWriter() {
    }

    /**
     * Writes the map of {@code engine} to {@code target}, atomically replacing it.
     *
     * @param engine   the map's engine
     * @param target   the file
     * @param listener progress, or null
     * @throws IOException if writing fails (the previous file, if any, is left as it was)
     * @throws IllegalStateException if the map is closed
     */
    public static void save(MapEngine<?, ?> engine, Path target, PersistenceListener listener) throws IOException {
        engine.checkUsable();
        final ShardTable shards = engine.shardTable();
        save(shards, engine.codec(), shards.shardCount(), target, listener);
    }

    private static <K, V> void save(ShardTable shards, EntryCodec<K, V> codec, int shardCount, Path target,
                                    PersistenceListener listener) throws IOException {
        ChronicleSupport.ensureConfigured();
        final Path dir = target.toAbsolutePath().getParent();
        final Path temp = Files.createTempFile(dir, target.getFileName().toString(), ".saving");
        boolean moved = false;
        try {
            final byte[] keyId = utf8(codec.keyCodecIdentity());
            final byte[] valueId = utf8(codec.valueCodecIdentity());
            final int headerLength = headerLength(keyId.length, valueId.length);
            final long expected = Math.max(1, shards.size());
            long entries = 0;
            int blocks = 0;
            long end;
            final MappedBytes out = MappedBytes.mappedBytes(temp.toFile(), CHUNK_BYTES);
            try {
                out.writePosition(headerLength);
                final ExpandableArrayBuffer records = new ExpandableArrayBuffer(1 << 16);
                final UnsafeBuffer blockHeader = new UnsafeBuffer(new byte[BLOCK_HEADER_BYTES]);
                long boundary = 0;
                while (boundary < ROUTING_END) {
                    final long step = shards.exportFrom(boundary, ROUTING_END, records);
                    final long next = step >>> 31;
                    final int length = (int) (step & Integer.MAX_VALUE);
                    final int count = countRecords(records, length);
                    blockHeader.putInt(0, BLOCK_MAGIC, ByteOrder.LITTLE_ENDIAN);
                    blockHeader.putInt(BLOCK_RECORD_COUNT, count, ByteOrder.LITTLE_ENDIAN);
                    blockHeader.putLong(BLOCK_ROUTING_FROM, boundary, ByteOrder.LITTLE_ENDIAN);
                    blockHeader.putLong(BLOCK_ROUTING_TO, next, ByteOrder.LITTLE_ENDIAN);
                    blockHeader.putInt(BLOCK_PAYLOAD_LENGTH, length, ByteOrder.LITTLE_ENDIAN);
                    blockHeader.putInt(BLOCK_PAYLOAD_CRC, crc(records.byteArray(), 0, length), ByteOrder.LITTLE_ENDIAN);
                    blockHeader.putInt(BLOCK_CRC, crc(blockHeader.byteArray(), 0, BLOCK_CRC), ByteOrder.LITTLE_ENDIAN);
                    out.write(blockHeader.byteArray(), 0, BLOCK_HEADER_BYTES);
                    out.write(records.byteArray(), 0, length);
                    entries += count;
                    blocks++;
                    boundary = next;
                    if (listener != null) {
                        listener.progress(Math.min(entries, expected), expected, out.writePosition());
                    }
                }
                final UnsafeBuffer footer = new UnsafeBuffer(new byte[FOOTER_BYTES]);
                footer.putInt(0, FOOTER_MAGIC, ByteOrder.LITTLE_ENDIAN);
                footer.putInt(FOOTER_BLOCK_COUNT, blocks, ByteOrder.LITTLE_ENDIAN);
                footer.putLong(FOOTER_ENTRY_COUNT, entries, ByteOrder.LITTLE_ENDIAN);
                footer.putInt(FOOTER_CRC, crc(footer.byteArray(), 0, FOOTER_CRC), ByteOrder.LITTLE_ENDIAN);
                out.write(footer.byteArray(), 0, FOOTER_BYTES);
                end = out.writePosition();
                final byte[] header = header(codec, shardCount, keyId, valueId, entries, blocks);
                out.writePosition(0);
                out.write(header, 0, header.length);
            } finally {
                out.releaseLast();
            }
            try (RandomAccessFile file = new RandomAccessFile(temp.toFile(), "rw")) {
                file.setLength(end);   // the mapping grew the file by whole chunks
                file.getChannel().force(true);
            }
            moveAtomically(temp, target);
            moved = true;
            if (listener != null) {
                listener.progress(entries, entries, end);
            }
        } finally {
            if (!moved) {
                Files.deleteIfExists(temp);
            }
        }
    }

    private static <K, V> byte[] header(EntryCodec<K, V> codec, int shardCount, byte[] keyId, byte[] valueId,
                                        long entries, int blocks) {
        final int length = headerLength(keyId.length, valueId.length);
        final UnsafeBuffer h = new UnsafeBuffer(new byte[length]);
        h.putLong(0, MAGIC, ByteOrder.LITTLE_ENDIAN);
        h.putInt(8, VERSION, ByteOrder.LITTLE_ENDIAN);
        h.putInt(HEADER_LENGTH, length, ByteOrder.LITTLE_ENDIAN);
        h.putLong(HASH_SEED, codec.hasher().seed(), ByteOrder.LITTLE_ENDIAN);
        h.putInt(SHARD_COUNT, shardCount, ByteOrder.LITTLE_ENDIAN);
        h.putInt(MAX_ENTRY_BYTES, codec.maxEntryBytes(), ByteOrder.LITTLE_ENDIAN);
        h.putLong(ENTRY_COUNT, entries, ByteOrder.LITTLE_ENDIAN);
        h.putInt(BLOCK_COUNT, blocks, ByteOrder.LITTLE_ENDIAN);
        h.putShort(KEY_ID_LENGTH, (short) keyId.length, ByteOrder.LITTLE_ENDIAN);
        h.putShort(VALUE_ID_LENGTH, (short) valueId.length, ByteOrder.LITTLE_ENDIAN);
        h.putBytes(HEADER_FIXED_BYTES, keyId);
        h.putBytes(HEADER_FIXED_BYTES + keyId.length, valueId);
        h.putInt(length - Integer.BYTES, crc(h.byteArray(), 0, length - Integer.BYTES), ByteOrder.LITTLE_ENDIAN);
        return h.byteArray();
    }

    private static int countRecords(ExpandableArrayBuffer records, int length) {
        int count = 0;
        for (int at = 0; at < length; at += io.starshard.offheap.RecordDescriptor.checkedRecordLength(records, at, length)) {
            count++;
        }
        return count;
    }

    /** Renames over the target in one step, then forces the directory so the rename itself is durable. */
    private static void moveAtomically(Path temp, Path target) throws IOException {
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system of " + target + " cannot rename atomically, so a save could"
                + " destroy the previous file if interrupted; save to a local file system", e);
        }
        try (FileChannel dir = FileChannel.open(target.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException ignored) {
            // some file systems cannot open a directory for reading; the rename is done, only its durability waits
        }
    }
}
