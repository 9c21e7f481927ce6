package io.starshard.internal;

import net.openhft.chronicle.bytes.MappedBytesStore;
import net.openhft.chronicle.bytes.MappedFile;
import net.openhft.chronicle.core.io.ReferenceOwner;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A whole file mapped read-only in one piece, through Chronicle's {@link MappedFile} with a single chunk that
 * covers it, and unmapped by {@link #close()}.
 *
 * <p>Why not {@code MappedBytes.singleMappedBytes}: its mapping outlives {@code releaseLast()} (measured: every file
 * stayed mapped, so a deleted file's disk space was never given back). A one-chunk {@code MappedFile} is unmapped
 * when released. The chunk is rounded up to 64 KiB and so reaches past the end of the file; only
 * {@code [0, size)} may be read, which every reader checks before it wraps a region.
 */
final class ReadOnlyMapping implements AutoCloseable {
    private static final long ROUNDING = 64L << 10;

    private final MappedFile file;
    private final ReferenceOwner owner;
    private final MappedBytesStore store;
    private final long address;
    private final long size;

    /**
     * Maps {@code path}, whose length is {@code size} (at least 1).
     *
     * @throws IOException if it cannot be mapped
     */
    ReadOnlyMapping(Path path, long size) throws IOException {
        ChronicleSupport.ensureConfigured();
        this.size = size;
        this.owner = ReferenceOwner.temporary("read-only mapping of " + path.getFileName());
        this.file = MappedFile.of(path.toFile(), (size + ROUNDING - 1) & ~(ROUNDING - 1), 0, true);
        try {
            file.singleThreadedCheckDisabled(true);
            this.store = file.acquireByteStore(owner, 0);
            store.singleThreadedCheckDisabled(true);
            this.address = store.addressForRead(0);
        } catch (IOException | RuntimeException e) {
            file.releaseLast();
            throw e;
        }
    }

    /**
     * Where the file starts in memory.
     *
     * @return the address of the file's first byte; valid until {@link #close()}, for {@link #size()} bytes
     */
    long address() {
        return address;
    }

    /**
     * The file's length.
     *
     * @return bytes
     */
    long size() {
        return size;
    }

    /** Unmaps the file. */
    @Override
    public void close() {
        store.release(owner);
        file.releaseLast();
    }
}
