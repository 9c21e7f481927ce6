package io.starshard.internal;

/**
 * Runs one operation of a map without waiting for any of that map's locks: the asynchronous map's fast path.
 * While the call runs, the thread's context names the map ({@link ThreadContext#nonBlockingFor}); a shard lock or
 * journal lane of that map found taken, or a budget refusal whose retry would compact every shard, throws
 * {@link WouldBlock} at the point where the operation would have waited, which is always before it changed
 * anything. {@link #tryNow} then returns {@link #WOULD_BLOCK} and the caller runs the operation again where it may
 * wait. Other exceptions are the operation's own and propagate unchanged.
 *
 * <p>Why a thread-context flag rather than a second set of methods: the one write core and the one read protocol
 * stay the only paths; the flag changes only how their locks are taken.
 */
public final class NonBlockingCall {
    /** What {@link #tryNow} returns when the call would have had to wait; nothing was changed. */
    public static final Object WOULD_BLOCK = new Object();

    private NonBlockingCall() {
    }

    /**
     * An operation on {@code target} with two arguments; a non-capturing lambda, so passing one allocates nothing.
     *
     * @param <T> the target type
     * @param <A> the first argument's type
     * @param <B> the second argument's type
     * @param <R> the result type
     */
    @FunctionalInterface
    public interface Call<T, A, B, R> {
        /**
         * Runs the operation.
         *
         * @param target the map
         * @param a      the first argument
         * @param b      the second argument
         * @return the result
         */
        R apply(T target, A a, B b);
    }

    /**
     * Runs {@code call} now unless it would wait for one of {@code engine}'s locks.
     *
     * @param engine the engine of the map the call uses
     * @param call   the operation
     * @param target passed to the call
     * @param a      passed to the call
     * @param b      passed to the call
     * @param <T>    the target type
     * @param <A>    the first argument's type
     * @param <B>    the second argument's type
     * @param <R>    the result type
     * @return the call's result, or {@link #WOULD_BLOCK}
     */
    public static <T, A, B, R> Object tryNow(MapEngine<?, ?> engine, Call<T, A, B, R> call, T target, A a, B b) {
        final ThreadContext ctx = ThreadContext.current();
        final Object outer = ctx.nonBlockingFor;
        ctx.nonBlockingFor = engine.shardTable();
        try {
            return call.apply(target, a, b);
        } catch (WouldBlock wouldWait) {
            return WOULD_BLOCK;
        } finally {
            ctx.nonBlockingFor = outer;
        }
    }
}
