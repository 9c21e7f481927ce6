package io.starshard.internal;

/**
 * Thrown inside the engine, never to a user, when an operation run without waiting ({@link ThreadContext#nonBlockingFor})
 * would have to wait for a lock: it is thrown when the lock is found taken, before anything was changed, and the
 * asynchronous map then runs the operation again on its executor. One instance, no stack trace: it is a signal,
 * not an error, and costs nothing to throw.
 */
final class WouldBlock extends RuntimeException {
    private static final long serialVersionUID = 1L;

    static final WouldBlock INSTANCE = new WouldBlock();

    private WouldBlock() {
        super("the operation would wait for a lock", null, false, false);
    }
}
