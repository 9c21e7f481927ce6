package io.starshard.replication;

/**
 * A replicated operation that could not be carried out: the cluster did not answer in time (the outcome of a write
 * is then unknown: it may still be applied, once), the map is closed, or the command failed on the members in the
 * same way (the message names the member's exception).
 */
public class ReplicationException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what went wrong
     * @param cause   the underlying failure, or null
     */
    public ReplicationException(String message, Throwable cause) {
        super(message, cause);
    }
}
