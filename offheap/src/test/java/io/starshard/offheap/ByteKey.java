package io.starshard.offheap;

import java.util.Arrays;

/** An encoded key as a {@code HashMap} key of the test models: equality and hash by content. */
final class ByteKey {
    final byte[] bytes;

    ByteKey(byte[] bytes) {
        this.bytes = bytes;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ByteKey && Arrays.equals(bytes, ((ByteKey) o).bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("ByteKey[").append(bytes.length).append(':');
        for (int i = 0; i < Math.min(bytes.length, 16); i++) {
            sb.append(String.format("%02x", bytes[i]));
        }
        return sb.append(bytes.length > 16 ? "...]" : "]").toString();
    }
}
