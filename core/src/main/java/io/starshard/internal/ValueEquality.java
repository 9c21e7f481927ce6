package io.starshard.internal;

import java.util.Arrays;
import java.util.Objects;

/**
 * How the map compares and hashes the values (and keys) it hands out, wherever it compares a caller's object with
 * a stored one: the write core's conditional writes, {@code containsValue}, the views, {@code hashCode}. One place,
 * because every stored object is a fresh decoded copy, so arrays must compare and hash by content everywhere alike.
 */
public final class ValueEquality {
    private ValueEquality() {
    }

    /**
     * {@code equals}, except that arrays compare by content (identity of a fresh copy could never match).
     *
     * @param expected the caller's value
     * @param actual   a decoded stored value
     * @return whether they are equal
     */
    public static boolean valueEquals(Object expected, Object actual) {
        return Objects.deepEquals(expected, actual);
    }

    /**
     * {@code hashCode}, except that arrays hash by content (an identity hash of a fresh copy is not stable).
     *
     * @param o an element
     * @return its hash
     */
    public static int elementHash(Object o) {
        return o.getClass().isArray() ? Arrays.deepHashCode(new Object[] {o}) - 31 : o.hashCode();
    }
}
