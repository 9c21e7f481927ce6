package io.starshard.internal;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.AgentTerminationException;
import org.agrona.concurrent.IdleStrategy;

/**
 * Starts the map's optional background threads (a rebalance's mover, the compaction agent) the one way they are
 * started: an Agrona {@link AgentRunner} on a daemon thread named after the agent's role, whose error handler
 * logs a failure and treats {@link AgentTerminationException} as the agent's normal way to stop.
 *
 * <p>Why daemon threads: a forgotten map must not keep the JVM alive; each agent stops by itself once its map is
 * closed (or its work is over), so closing a map needs no join.
 */
final class BackgroundAgents {
    private static final System.Logger LOG = System.getLogger("io.starshard.ShardedHashMap");

    private BackgroundAgents() {
    }

    /** Runs {@code agent} on a new daemon thread named {@code agent.roleName()}, idling with {@code idle}. */
    static void start(Agent agent, IdleStrategy idle) {
        final AgentRunner runner = new AgentRunner(idle, BackgroundAgents::failed, null, agent);
        AgentRunner.startOnThread(runner, r -> {
            final Thread thread = new Thread(r, agent.roleName());
            thread.setDaemon(true);
            return thread;
        });
    }

    private static void failed(Throwable e) {
        if (!(e instanceof AgentTerminationException)) {
            LOG.log(System.Logger.Level.WARNING, "background thread failed", e);
        }
    }
}
