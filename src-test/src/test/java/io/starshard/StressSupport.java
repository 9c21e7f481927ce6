package io.starshard;


import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Shared machinery of {@link ConcurrencyTest} and {@link CloseRaceTest}: run lengths, worker threads with bounded
 * joins and failure capture, self-checking values, and the off-heap accounting of a (closed) map.
 *
 * <p>Self-checking values are how the tests detect a torn or foreign read: every value carries its key (or a
 * function of it) and a checksum, so a reader validates any value it sees without knowing what was written last.
 */
final class StressSupport {
    /** {@code -Pstress} sets this: minutes instead of seconds. */
    static final boolean STRESS = Boolean.getBoolean("starshard.stress");
    /** Worker threads per scenario: at least 4 so a 2-core machine is oversubscribed (preemption mid-read). */
    static final int THREADS = Math.max(4, Runtime.getRuntime().availableProcessors() * 2);
    /** How long a join may take before the test reports a hang (bounds joins only, never asserts speed). */
    static final long JOIN_TIMEOUT_MILLIS = 30_000;

    /** Values above 16 KiB get a dedicated arena chunk, which is freed through the epoch domain on removal. */
    static final int LARGE_FILL = 70_000;

    private StressSupport() {
    }

    /**
     * Duration of one timed phase: a share of {@code starshard.concurrency.seconds} under stress, a fraction of a
     * second otherwise.
     */
    static long phaseMillis(int phases, long defaultMillis) {
        if (!STRESS) {
            return defaultMillis;
        }
        final long seconds = Long.getLong("starshard.concurrency.seconds", 180);   // -Pstress: minutes, not seconds
        return Math.max(defaultMillis, seconds * 1000 / phases);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Workers
    // ---------------------------------------------------------------------------------------------------------

    /** A body that may throw anything; the first throwable of any worker fails the test. */
    @FunctionalInterface
    interface Body {
        void run() throws Exception;
    }

    /** A set of threads started together, joined with a timeout; records the first failure and stops the others. */
    static final class Workers {
        private final String name;
        private final List<Thread> threads = new ArrayList<>();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile boolean stop;

        Workers(String name) {
            this.name = name;
        }

        void add(String role, Body body) {
            final Thread t = new Thread(() -> {
                try {
                    body.run();
                } catch (Throwable e) {
                    fail(e);
                }
            }, name + "-" + role + "-" + threads.size());
            t.setDaemon(true);
            threads.add(t);
        }

        void fail(Throwable e) {
            failure.compareAndSet(null, e);
            stop = true;
        }

        boolean failed() {
            return failure.get() != null;
        }

        void start() {
            for (Thread t : threads) {
                t.start();
            }
        }

        /** Joins every thread; a thread still alive after the timeout is a hang and fails with its stack. */
        void join() throws InterruptedException {
            final long deadline = System.nanoTime() + JOIN_TIMEOUT_MILLIS * 1_000_000L;
            for (Thread t : threads) {
                t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000L));
                if (t.isAlive()) {
                    stop = true;
                    final AssertionError hang = new AssertionError(t.getName() + " did not finish within "
                        + JOIN_TIMEOUT_MILLIS + " ms (hang); its stack is attached");
                    final Throwable where = new Throwable("stack of " + t.getName());
                    where.setStackTrace(t.getStackTrace());
                    hang.initCause(where);
                    throw hang;
                }
            }
        }

        /** Joins, then rethrows the first failure of any worker. */
        void joinAndCheck() throws InterruptedException {
            join();
            final Throwable e = failure.get();
            if (e instanceof AssertionError a) {
                throw a;
            }
            if (e != null) {
                throw new AssertionError(name + ": a worker failed: " + e, e);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Self-checking values
    // ---------------------------------------------------------------------------------------------------------

    static long mix(long x) {
        x ^= x >>> 33;
        x *= 0xff51afd7ed558ccdL;
        x ^= x >>> 33;
        x *= 0xc4ceb9fe1a85ec53L;
        return x ^ (x >>> 33);
    }

    /** Low 24 bits of a {@code Long -> Long} value: a function of the key. */
    static final long KEY_CHECK_MASK = 0xFF_FFFFL;

    /** A {@code long} value that names its key: {@code version << 24 | mix(key) & 0xFFFFFF}, never negative. */
    static long longValue(long key, long version) {
        return ((version & 0x7F_FFFF_FFFFL) << 24) | (mix(key) & KEY_CHECK_MASK);
    }

    /** Checks a {@link #longValue} read for {@code key}; returns its version. */
    static long checkLongValue(long key, long value) {
        if (value < 0 || (value & KEY_CHECK_MASK) != (mix(key) & KEY_CHECK_MASK)) {
            throw new AssertionError("torn or foreign long value for key " + key + ": 0x" + Long.toHexString(value));
        }
        return value >>> 24;
    }

    static String stringKey(long id) {
        return "key-" + id;
    }

    /**
     * A value that names its key: {@code [keyLength:2][key UTF-8][version:8][fill][checksum:8]}. The fill length
     * varies with the version (so updates move to new blocks or stay in place); {@code large} makes it exceed
     * 16 KiB (a dedicated chunk).
     */
    static byte[] bytesValue(String key, long version, boolean large) {
        final byte[] k = key.getBytes(StandardCharsets.UTF_8);
        final int fill = large ? LARGE_FILL : (int) ((mix(version * 31 + k.length) >>> 1) % 200);
        final byte[] v = new byte[2 + k.length + 8 + fill + 8];
        v[0] = (byte) k.length;
        v[1] = (byte) (k.length >>> 8);
        System.arraycopy(k, 0, v, 2, k.length);
        int at = 2 + k.length;
        putLong(v, at, version);
        at += 8;
        final long seed = mix(version ^ key.hashCode());
        for (int i = 0; i < fill; i++) {
            v[at + i] = (byte) (seed + i * 0x9E37);
        }
        putLong(v, v.length - 8, checksum(v, v.length - 8));
        return v;
    }

    /** Checks a {@link #bytesValue} read for {@code key} (null: any key); returns its version. */
    static long checkBytesValue(String key, byte[] v) {
        if (v == null || v.length < 2 + 8 + 8) {
            throw new AssertionError("torn value for " + key + ": " + (v == null ? "null" : v.length + " bytes"));
        }
        if (checksum(v, v.length - 8) != getLong(v, v.length - 8)) {
            throw new AssertionError("torn value for " + key + ": checksum mismatch over " + v.length + " bytes");
        }
        final int keyLength = (v[0] & 0xFF) | (v[1] & 0xFF) << 8;
        if (keyLength > v.length - 18) {
            throw new AssertionError("torn value for " + key + ": key length " + keyLength);
        }
        if (key != null) {
            final String owner = new String(v, 2, keyLength, StandardCharsets.UTF_8);
            if (!owner.equals(key)) {
                throw new AssertionError("foreign value: read for " + key + " but it belongs to " + owner);
            }
        }
        return getLong(v, 2 + keyLength);
    }

    /**
     * A fast full check of a value known to be one of {@code versions} (indexed by version) of {@code key}: the
     * bytes must equal that version exactly. Falls back to {@link #checkBytesValue} to describe a mismatch.
     */
    static void checkKnownValue(String key, byte[] v, byte[][] versions) {
        final int at = 2 + key.length();   // ASCII keys
        if (v.length >= at + 8) {
            final long version = getLong(v, at);
            if (version >= 0 && version < versions.length && java.util.Arrays.equals(v, versions[(int) version])) {
                return;
            }
        }
        checkBytesValue(key, v);
        throw new AssertionError("value for " + key + " is well-formed but was never written");
    }

    private static long checksum(byte[] v, int length) {
        long h = 0x243F6A8885A308D3L ^ length;
        for (int i = 0; i < length; i++) {
            h = (h ^ v[i]) * 0x100000001B3L;
        }
        return mix(h);
    }

    private static void putLong(byte[] b, int at, long value) {
        for (int i = 0; i < 8; i++) {
            b[at + i] = (byte) (value >>> (i << 3));
        }
    }

    static long getLong(byte[] b, int at) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v |= (b[at + i] & 0xFFL) << (i << 3);
        }
        return v;
    }
}
