package io.starshard;

import java.io.IOException;

/**
 * A saved map's file that cannot be loaded as it is: truncated, a checksum that does not match, a length or count
 * that points outside the file, an unknown format version. Thrown before any of the file's bytes are trusted; the
 * map being loaded is discarded, so there is never a partly loaded map.
 */
public final class CorruptedFileException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Where in the file the problem was found. */
    private final long offset;

    /**
     * Creates the exception.
     *
     * @param file   the file, for the message
     * @param offset where the problem was found
     * @param what   what is wrong
     */
    public CorruptedFileException(String file, long offset, String what) {
        super(file + " is not a loadable map file: " + what + " (at byte " + offset + ")");
        this.offset = offset;
    }

    /**
     * Where the problem was found.
     *
     * @return a byte offset in the file
     */
    public long offset() {
        return offset;
    }
}
