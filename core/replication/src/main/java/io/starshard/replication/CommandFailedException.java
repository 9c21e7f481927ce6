package io.starshard.replication;

/**
 * A command that the cluster committed and every member applied, and that failed on every member alike (the members
 * are deterministic): an entry above the size limit, an unknown function name, a function that threw. The map is
 * left alike on every member: unchanged, except by a batch ({@code putAll}), whose entries before the failing one
 * are written.
 */
public final class CommandFailedException extends ReplicationException {
    private static final long serialVersionUID = 1L;

    private final String failureType;

    /**
     * Creates the exception.
     *
     * @param failureType the class name of the exception the members' maps threw
     * @param message     its message
     */
    public CommandFailedException(String failureType, String message) {
        super("the command failed on the members: " + failureType + ": " + message, null);
        this.failureType = failureType;
    }

    /**
     * The class name of the exception the members' maps threw (e.g.
     * {@code io.starshard.offheap.OffHeapMemoryExhaustedException}).
     *
     * @return a class name
     */
    public String failureType() {
        return failureType;
    }
}
