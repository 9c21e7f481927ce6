package io.starshard.internal;

import io.starshard.CorruptedFileException;
import io.starshard.internal.ThreadContext.Frame;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;

import static io.starshard.internal.JournalFormat.*;

/**
 * Replays one journal lane file into a map no other thread can reach yet: checks the file's header, then each
 * record (its length within the file and the map's limits, its kind, its CRC) before it is applied.
 *
 * <p>The lane ends at the first record whose length-and-crc word is zero: a writer killed in the middle of an append
 * leaves exactly that, and its write had not returned. The writer keeps such a word after its last record, so a
 * file that ends without one was cut short and is rejected. A non-zero word whose record does not check is not a torn
 * append (that word is written last) but damage, and the whole open fails: a record after it may be one the
 * user was told had been written.
 */
final class JournalReader {
    private JournalReader() {
    }

    /**
     * Replays {@code file} into {@code engine}.
     *
     * @return the records applied
     * @throws CorruptedFileException if the header or a record does not check
     * @throws IOException            if the file cannot be read
     */
    static long replay(Path file, long generation, int lane, MapEngine<?, ?> engine) throws IOException {
        ChronicleSupport.ensureConfigured();
        final String name = file.toString();
        final long size = Files.size(file);
        if (size < FILE_HEADER_BYTES) {
            throw new CorruptedFileException(name, 0, "a journal lane has a " + FILE_HEADER_BYTES
                + "-byte header; the file has " + size + " bytes");
        }
        final ReadOnlyMapping bytes = new ReadOnlyMapping(file, size);
        try {
            final long base = bytes.address();
            final UnsafeBuffer view = new UnsafeBuffer(0, 0);
            checkHeader(name, view, base, generation, lane, engine);
            final int maxEntryBytes = engine.codec().maxEntryBytes();
            final int keyWidth = engine.codec().keyWidth();
            final int valueWidth = engine.codec().valueWidth();
            final CRC32C crc = new CRC32C();
            final byte[] checked = new byte[RECORD_HEADER_BYTES - CHECKED_FROM];
            long applied = 0;
            long at = FILE_HEADER_BYTES;
            while (true) {
                if (at + Long.BYTES > size) {
                    throw new CorruptedFileException(name, at, "the lane ends without its end mark (a zero word):"
                        + " the file was cut short");
                }
                view.wrap(base + at, Long.BYTES);
                final long word = view.getLongVolatile(0);
                if (word == 0) {
                    break;
                }
                if (at + RECORD_HEADER_BYTES > size) {
                    throw new CorruptedFileException(name, at, "a journal record's header runs past the end of the"
                        + " file");
                }
                view.wrap(base + at, RECORD_HEADER_BYTES);
                final int length = (int) word;
                final int kind = view.getInt(KIND, ByteOrder.LITTLE_ENDIAN);
                final int keyLength = view.getInt(KEY_LENGTH, ByteOrder.LITTLE_ENDIAN);
                final int valueLength = view.getInt(VALUE_LENGTH, ByteOrder.LITTLE_ENDIAN);
                final String problem = checkRecord(length, kind, keyLength, valueLength, maxEntryBytes, keyWidth,
                    valueWidth, size - at);
                if (problem != null) {
                    throw new CorruptedFileException(name, at, "journal record: " + problem);
                }
                view.wrap(base + at, RECORD_HEADER_BYTES + keyLength + valueLength);
                view.getBytes(CHECKED_FROM, checked);
                crc.reset();
                crc.update(checked, 0, checked.length);
                final byte[] payload = new byte[keyLength + valueLength];
                view.getBytes(RECORD_HEADER_BYTES, payload);
                crc.update(payload, 0, payload.length);
                if ((int) crc.getValue() != (int) (word >>> 32)) {
                    throw new CorruptedFileException(name, at, "a journal record's checksum does not match its bytes");
                }
                apply(engine, kind, view, keyLength, valueLength, name, at);
                applied++;
                at += length;
            }
            return applied;
        } catch (InternalError e) {
            throw new CorruptedFileException(name, 0, "the file changed while it was read (" + e.getMessage() + ")");
        } finally {
            bytes.close();
        }
    }

    private static void checkHeader(String name, UnsafeBuffer view, long base, long generation, int lane,
                                    MapEngine<?, ?> engine) throws CorruptedFileException {
        view.wrap(base, FILE_HEADER_BYTES);
        final byte[] header = new byte[FILE_HEADER_BYTES];
        view.getBytes(0, header);
        if (view.getLong(0, ByteOrder.LITTLE_ENDIAN) != MAGIC) {
            throw new CorruptedFileException(name, 0, "not a journal lane (wrong magic)");
        }
        if (MapFileFormat.crc(header, 0, FILE_HEADER_CRC) != view.getInt(FILE_HEADER_CRC, ByteOrder.LITTLE_ENDIAN)) {
            throw new CorruptedFileException(name, FILE_HEADER_CRC, "the journal header's checksum does not match");
        }
        final int version = view.getInt(8, ByteOrder.LITTLE_ENDIAN);
        if (version != VERSION) {
            throw new CorruptedFileException(name, 8, "journal format version " + version + "; this library reads "
                + VERSION);
        }
        if (view.getLong(GENERATION, ByteOrder.LITTLE_ENDIAN) != generation
            || view.getInt(LANE, ByteOrder.LITTLE_ENDIAN) != lane) {
            throw new CorruptedFileException(name, GENERATION, "the header names generation "
                + view.getLong(GENERATION, ByteOrder.LITTLE_ENDIAN) + " lane " + view.getInt(LANE,
                ByteOrder.LITTLE_ENDIAN) + ", not the file name's");
        }
        final long seed = view.getLong(HASH_SEED, ByteOrder.LITTLE_ENDIAN);
        if (seed != engine.codec().hasher().seed()) {
            throw new CorruptedFileException(name, HASH_SEED, "the journal was written with hash seed " + seed
                + ", the map's checkpoint with " + engine.codec().hasher().seed());
        }
    }

    /** Why a record's header is not acceptable, or null. */
    private static String checkRecord(int length, int kind, int keyLength, int valueLength, int maxEntryBytes,
                                      int keyWidth, int valueWidth, long left) {
        if (keyLength < 0 || valueLength < 0 || (long) keyLength + valueLength > Math.max(maxEntryBytes,
            RANGE_BYTES)) {
            return "key " + keyLength + " and value " + valueLength + " bytes; this map's entries hold at most "
                + maxEntryBytes + " (open it with the maxEntryBytes it was written with)";
        }
        if (length != recordLength(keyLength, valueLength) || length > left) {
            return "length " + length + " for " + keyLength + " key and " + valueLength + " value bytes, with "
                + left + " bytes left in the file";
        }
        switch (kind) {
            case PUT:
                if (keyLength == 0 || keyWidth > 0 && keyLength != keyWidth
                    || valueWidth > 0 && valueLength != valueWidth || keyLength + valueLength > maxEntryBytes) {
                    return "a put of " + keyLength + " key and " + valueLength + " value bytes does not fit the"
                        + " map's codecs";
                }
                return null;
            case REMOVE:
                return keyLength == 0 || valueLength != 0 || keyWidth > 0 && keyLength != keyWidth
                    ? "a remove of " + keyLength + " key bytes does not fit the map's key codec" : null;
            case RANGE:
                return keyLength != 0 || valueLength != RANGE_BYTES ? "a malformed range removal" : null;
            default:
                return "unknown record kind " + kind;
        }
    }

    /**
     * Applies a checked record through the map's one write core (the journal is not attached yet, so the replay
     * journals nothing).
     */
    private static void apply(MapEngine<?, ?> engine, int kind, UnsafeBuffer record, int keyLength,
                              int valueLength, String name, long at) throws CorruptedFileException {
        final int key = RECORD_HEADER_BYTES;
        if (kind == RANGE) {
            final long from = record.getLong(key, ByteOrder.LITTLE_ENDIAN);
            final long to = record.getLong(key + 8, ByteOrder.LITTLE_ENDIAN);
            if (from < 0 || to <= from || to > ShardTable.ROUTING_END) {
                throw new CorruptedFileException(name, at, "a range removal of [" + from + ", " + to + ")");
            }
            engine.shardTable().openContext();
            engine.bulk().removeRange(from, to, null);
            return;
        }
        final ThreadContext ctx = engine.shardTable().openContext();
        final Frame f = ctx.push();
        try {
            f.key.putBytes(0, record, key, keyLength);
            f.keyLength = keyLength;
            f.hash = engine.codec().hashOf(f.key, 0, keyLength);
            if (kind == PUT) {
                f.value.putBytes(0, record, key + keyLength, valueLength);
                f.valueLength = valueLength;
                engine.writeCore().putVal(ctx, f, false, false);
            } else {
                engine.writeCore().replaceNode(ctx, f, true, null, false);
            }
        } finally {
            ctx.pop();
        }
    }
}
