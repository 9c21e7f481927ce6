package io.starshard.replication;

/**
 * A deterministic update that every member applies to its own copy of an entry: the replicated form of
 * {@code merge}/{@code compute}. A lambda cannot travel through the cluster log, so functions are registered by name
 * on every member ({@link ReplicatedMapBuilder#function}) and a command names one, with an argument.
 *
 * <p>It must be a pure function of its arguments: no clock, no randomness, no state of its own, the same code on
 * every member. Anything else makes the members' maps diverge.
 *
 * @param <V> the value type
 */
@FunctionalInterface
public interface ReplicatedFunction<V> {
    /**
     * Computes an entry's new value.
     *
     * @param current  the entry's value, or null if the key is absent
     * @param argument the argument the command carried, never null
     * @return the new value, or null to remove the entry
     */
    V apply(V current, V argument);
}
