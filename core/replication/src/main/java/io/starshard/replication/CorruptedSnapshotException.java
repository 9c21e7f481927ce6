package io.starshard.replication;

/**
 * A member's snapshot that cannot be loaded as it is: a wrong magic, version or checksum, a length out of range, a
 * map block that fails its check, or a stream that ends early. Thrown while the member starts, before any of the
 * snapshot's bytes are trusted; the member does not start. Recover by restoring the member's directory from a healthy
 * member, or by invalidating the snapshot (Aeron's {@code ClusterTool invalidate-latest-snapshot}) so that the member
 * rebuilds from an earlier snapshot and the log.
 */
public final class CorruptedSnapshotException extends ReplicationException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param what  what is wrong
     * @param cause the underlying failure, or null
     */
    public CorruptedSnapshotException(String what, Throwable cause) {
        super("the replicated map's snapshot cannot be loaded: " + what, cause);
    }
}
