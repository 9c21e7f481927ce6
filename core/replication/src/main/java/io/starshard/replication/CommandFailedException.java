package io.starshard.replication;

/**
 * A command that the cluster committed and every member applied, and that failed on every member alike (the members
 * are deterministic): a full memory budget, an entry above the size limit, an unknown function name. The map is
 * unchanged by it on every member.
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
