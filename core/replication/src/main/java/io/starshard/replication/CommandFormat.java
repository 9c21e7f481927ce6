package io.starshard.replication;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The bytes of a command on the cluster log and of its response on the egress: the one place that knows their
 * layout. Numbers are in the platform's order through Agrona's buffers: little-endian on x86-64 and AArch64, the
 * platforms Aeron runs on. Arguments are length-prefixed and checked, so a member never reads past a message.
 *
 * <pre>
 * Command (client to cluster, one cluster message):
 *   0  type           byte    one of the TYPE_* constants
 *   1  (zero)         7 bytes
 *   8  clientId       long    chosen by the client, stable across its reconnections
 *   16 correlationId  long    increases by one per command of that client
 *   24 arguments      a sequence of blobs (int length, then that many bytes) and ints, per type:
 *        PUT, PUT_IF_ABSENT, REPLACE, REMOVE_IF_EQUALS : key, value
 *        REMOVE, GET                                   : key
 *        REPLACE_IF_EQUALS                             : key, expected value, new value
 *        APPLY                                         : function name (UTF-8), key, argument
 *        PUT_ALL                                       : int count, then count times key, value
 *        REBALANCE                                     : int shard count
 *        CLEAR, SYNC                                   : nothing
 *
 * Response (leader to the client's session):
 *   0  correlationId  long
 *   8  logPosition    long    the log position just after the command: awaitApplied(logPosition) sees its effect
 *   16 status         byte    STATUS_*
 *   17 (zero)         3 bytes
 *   20 resultLength   int     -1: no value (null); else the length of what follows
 *   24 result         bytes   a value's encoding, a boolean (one byte), or for STATUS_FAILED the UTF-8 text
 *                             "exception class name \n message"
 * </pre>
 */
final class CommandFormat {
    static final byte TYPE_PUT = 1;
    static final byte TYPE_PUT_IF_ABSENT = 2;
    static final byte TYPE_REMOVE = 3;
    static final byte TYPE_REMOVE_IF_EQUALS = 4;
    static final byte TYPE_REPLACE = 5;
    static final byte TYPE_REPLACE_IF_EQUALS = 6;
    static final byte TYPE_PUT_ALL = 7;
    static final byte TYPE_CLEAR = 8;
    static final byte TYPE_APPLY = 9;
    static final byte TYPE_GET = 10;
    static final byte TYPE_REBALANCE = 11;
    static final byte TYPE_SYNC = 12;
    /** One past the largest type: a type byte at or above it is not a command. */
    static final byte TYPE_LIMIT = 13;

    static final int TYPE_OFFSET = 0;
    static final int CLIENT_ID_OFFSET = 8;
    static final int CORRELATION_ID_OFFSET = 16;
    static final int ARGUMENTS_OFFSET = 24;

    static final byte STATUS_OK = 0;
    /** The command was applied and threw on every member alike (an entry too large, a function that threw...). */
    static final byte STATUS_FAILED = 1;
    /** A resent command so old that its outcome is no longer remembered: whether it was applied is unknown. */
    static final byte STATUS_EXPIRED = 2;

    static final int RESPONSE_CORRELATION_OFFSET = 0;
    static final int RESPONSE_POSITION_OFFSET = 8;
    static final int RESPONSE_STATUS_OFFSET = 16;
    static final int RESPONSE_LENGTH_OFFSET = 20;
    static final int RESPONSE_RESULT_OFFSET = 24;
    static final int NO_VALUE = -1;

    private CommandFormat() {
    }

    /** Writes a command's fixed header; returns where its arguments start. */
    static int putHeader(MutableDirectBuffer buffer, byte type, long clientId, long correlationId) {
        buffer.putLong(TYPE_OFFSET, 0L);
        buffer.putByte(TYPE_OFFSET, type);
        buffer.putLong(CLIENT_ID_OFFSET, clientId);
        buffer.putLong(CORRELATION_ID_OFFSET, correlationId);
        return ARGUMENTS_OFFSET;
    }

    /** Writes a response's fixed part; returns where its result starts. */
    static int putResponseHeader(MutableDirectBuffer buffer, long correlationId, long logPosition, byte status,
                                 int resultLength) {
        buffer.putLong(RESPONSE_CORRELATION_OFFSET, correlationId);
        buffer.putLong(RESPONSE_POSITION_OFFSET, logPosition);
        buffer.putInt(RESPONSE_STATUS_OFFSET, 0);
        buffer.putByte(RESPONSE_STATUS_OFFSET, status);
        buffer.putInt(RESPONSE_LENGTH_OFFSET, resultLength);
        return RESPONSE_RESULT_OFFSET;
    }

    /**
     * Reads a command's arguments, checking every length against the message's end before it is used: a message
     * that does not parse is answered as failed, never trusted.
     */
    static final class Reader {
        private DirectBuffer buffer;
        private int position;
        private int end;
        private int lastOffset;
        private int lastLength;

        /** Starts reading the arguments of the command at {@code buffer[offset, offset + length)}. */
        Reader wrap(DirectBuffer buffer, int offset, int length) {
            this.buffer = buffer;
            this.position = offset + ARGUMENTS_OFFSET;
            this.end = offset + length;
            return this;
        }

        /** Reads one int argument. */
        int readInt() {
            require(Integer.BYTES);
            final int value = buffer.getInt(position);
            position += Integer.BYTES;
            return value;
        }

        /** Reads one blob: afterwards {@link #offset()} and {@link #length()} locate it in the buffer. */
        void readBlob() {
            final int length = readInt();
            if (length < 0) {
                throw new IllegalArgumentException("malformed command: negative length " + length);
            }
            require(length);
            lastOffset = position;
            lastLength = length;
            position += length;
        }

        DirectBuffer bufferOf() {
            return buffer;
        }

        int offset() {
            return lastOffset;
        }

        int length() {
            return lastLength;
        }

        private void require(int bytes) {
            if (end - position < bytes) {
                throw new IllegalArgumentException("malformed command: needs " + bytes + " bytes at "
                    + position + ", has " + (end - position));
            }
        }
    }
}
