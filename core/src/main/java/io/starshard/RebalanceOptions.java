package io.starshard;

import io.starshard.offheap.SegmentSpec;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * How an online rebalance ({@link ShardedHashMap#startRebalanceOnline(int, RebalanceOptions)}) moves entries.
 * Immutable: every setting returns a new instance.
 *
 * <p>A rebalance moves entries in <em>steps</em>. A step locks one previous shard and, one at a time, the new
 * shards its entries go to, and moves at most {@link #batchSize()} entries or for at most {@link #maxPause()},
 * whichever comes first; between steps every lock is released, so readers and writers of those shards wait at
 * most about one step. Smaller pauses mean more steps and a longer rebalance.
 *
 * <pre>{@code
 * map.startRebalanceOnline(256, RebalanceOptions.defaults()
 *     .background(true)
 *     .maxPause(Duration.of(200, ChronoUnit.MICROS))
 *     .listener(status -> System.out.printf("%.0f%%%n", status.progress() * 100)));
 * }</pre>
 */
public final class RebalanceOptions {
    /** Default most entries one step moves. */
    public static final int DEFAULT_BATCH_SIZE = 4096;
    /** Default longest a step holds a lock. */
    public static final Duration DEFAULT_MAX_PAUSE = Duration.ofNanos(SegmentSpec.DEFAULT_MAX_PAUSE_NANOS);
    /** Default least time between two listener calls. */
    public static final Duration DEFAULT_PROGRESS_INTERVAL = Duration.ofMillis(100);

    private static final RebalanceOptions DEFAULTS = new RebalanceOptions(false, DEFAULT_BATCH_SIZE,
        DEFAULT_MAX_PAUSE, Duration.ZERO, null, DEFAULT_PROGRESS_INTERVAL);

    private final boolean background;
    private final int batchSize;
    private final Duration maxPause;
    private final Duration pauseBetweenSteps;
    private final Consumer<RebalanceStatus> listener;
    private final Duration progressInterval;

    private RebalanceOptions(boolean background, int batchSize, Duration maxPause, Duration pauseBetweenSteps,
                             Consumer<RebalanceStatus> listener, Duration progressInterval) {
        this.background = background;
        this.batchSize = batchSize;
        this.maxPause = maxPause;
        this.pauseBetweenSteps = pauseBetweenSteps;
        this.listener = listener;
        this.progressInterval = progressInterval;
    }

    /**
     * The defaults: moved by the caller's {@code advanceRebalance} calls (no background thread), steps of at most
     * {@value #DEFAULT_BATCH_SIZE} entries and 1 ms, no listener.
     *
     * @return the default options
     */
    public static RebalanceOptions defaults() {
        return DEFAULTS;
    }

    /**
     * Whether a background thread moves the entries, step after step, until the rebalance is done; otherwise
     * they move when the application calls {@link ShardedHashMap#advanceRebalance(long)} (and as writers touch
     * keys not moved yet).
     *
     * @param background true for a background thread
     * @return new options
     */
    public RebalanceOptions background(boolean background) {
        return new RebalanceOptions(background, batchSize, maxPause, pauseBetweenSteps, listener, progressInterval);
    }

    /**
     * Most entries one step moves.
     *
     * @param entries 1 or more
     * @return new options
     * @throws IllegalArgumentException if {@code entries < 1}
     */
    public RebalanceOptions batchSize(int entries) {
        if (entries < 1) {
            throw new IllegalArgumentException("batchSize must be at least 1 entry, was " + entries);
        }
        return new RebalanceOptions(background, entries, maxPause, pauseBetweenSteps, listener, progressInterval);
    }

    /**
     * Longest a step holds a shard lock: a step stops once it has held its locks this long (it checks the clock
     * every few entries, so a step may exceed it by the time of moving those few).
     *
     * @param pause 1 µs to 1 s
     * @return new options
     * @throws IllegalArgumentException if out of range
     */
    public RebalanceOptions maxPause(Duration pause) {
        Objects.requireNonNull(pause, "maxPause");
        if (pause.compareTo(Duration.ofNanos(1000)) < 0 || pause.compareTo(Duration.ofSeconds(1)) > 0) {
            throw new IllegalArgumentException("maxPause must be between 1 µs and 1 s, was " + pause);
        }
        return new RebalanceOptions(background, batchSize, pause, pauseBetweenSteps, listener, progressInterval);
    }

    /**
     * How long the background thread waits between two steps; zero (the default) only yields the processor,
     * which moves entries as fast as the steps allow while letting waiting threads take the locks.
     *
     * @param pause 0 to 1 s
     * @return new options
     * @throws IllegalArgumentException if out of range
     */
    public RebalanceOptions pauseBetweenSteps(Duration pause) {
        Objects.requireNonNull(pause, "pauseBetweenSteps");
        if (pause.isNegative() || pause.compareTo(Duration.ofSeconds(1)) > 0) {
            throw new IllegalArgumentException("pauseBetweenSteps must be between 0 and 1 s, was " + pause);
        }
        return new RebalanceOptions(background, batchSize, maxPause, pause, listener, progressInterval);
    }

    /**
     * Called by the background thread with the status, at most once per {@link #progressInterval(Duration)}
     * and once when the rebalance has finished. It runs on that thread and delays the next step: keep it short.
     * Exceptions it throws are logged and ignored.
     *
     * @param listener the listener, or null for none
     * @return new options
     */
    public RebalanceOptions listener(Consumer<RebalanceStatus> listener) {
        return new RebalanceOptions(background, batchSize, maxPause, pauseBetweenSteps, listener, progressInterval);
    }

    /**
     * Least time between two listener calls.
     *
     * @param interval positive
     * @return new options
     * @throws IllegalArgumentException if not positive
     */
    public RebalanceOptions progressInterval(Duration interval) {
        Objects.requireNonNull(interval, "progressInterval");
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("progressInterval must be positive, was " + interval);
        }
        return new RebalanceOptions(background, batchSize, maxPause, pauseBetweenSteps, listener, interval);
    }

    /**
     * Whether a background thread moves the entries.
     *
     * @return the setting
     */
    public boolean background() {
        return background;
    }

    /**
     * Most entries one step moves.
     *
     * @return entries
     */
    public int batchSize() {
        return batchSize;
    }

    /**
     * Longest a step holds a lock.
     *
     * @return the pause
     */
    public Duration maxPause() {
        return maxPause;
    }

    /**
     * Wait between two background steps.
     *
     * @return the wait
     */
    public Duration pauseBetweenSteps() {
        return pauseBetweenSteps;
    }

    /**
     * The progress listener.
     *
     * @return the listener, or null
     */
    public Consumer<RebalanceStatus> listener() {
        return listener;
    }

    /**
     * Least time between two listener calls.
     *
     * @return the interval
     */
    public Duration progressInterval() {
        return progressInterval;
    }

    @Override
    public String toString() {
        return "RebalanceOptions{background=" + background + ", batchSize=" + batchSize + ", maxPause=" + maxPause
            + ", pauseBetweenSteps=" + pauseBetweenSteps + ", listener=" + (listener != null) + '}';
    }
}
