package io.starshard;

/**
 * A shard count was refused by a strict ({@code tryWith...}) factory or the builder.
 *
 * <p>Carries the requested count (after 0 was replaced by the default) and the largest count allowed, so a
 * caller can retry with {@link #maxAllowed()} if clamping is acceptable after all.
 */
public final class ShardCountException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final long requested;
    private final int maxAllowed;

    /**
     * Creates the exception.
     *
     * @param requested  the shard count asked for (0 already replaced by the default)
     * @param maxAllowed the largest shard count allowed here
     */
    public ShardCountException(long requested, int maxAllowed) {
        super(requested < 1
            ? "shard count must be positive (0 means the default of " + ShardedHashMap.DEFAULT_SHARDS + "), was " + requested
            : "shard count " + requested + " exceeds the maximum of " + maxAllowed);
        this.requested = requested;
        this.maxAllowed = maxAllowed;
    }

    /**
     * The shard count asked for.
     *
     * @return the requested count
     */
    public long requested() {
        return requested;
    }

    /**
     * The largest shard count allowed.
     *
     * @return the cap ({@link ShardedHashMap#MAX_SHARDS} unless the map was built with a lower one)
     */
    public int maxAllowed() {
        return maxAllowed;
    }
}
