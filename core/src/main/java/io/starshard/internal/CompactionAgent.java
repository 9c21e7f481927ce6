package io.starshard.internal;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentTerminationException;

/**
 * Finishes memory maintenance that writes left half done: a step runs after each write that leaves its shard with
 * chunks worth emptying or a table worth shrinking, and when the writes stop, the rest of that work waits. This
 * agent visits every shard of the current array, and on each whose lock it can take at once (it never waits
 * behind a writer) and that has work due, runs one bounded step. Between two rounds that found nothing it sleeps
 * for the interval the map was built with. Stops by itself when the map is closed.
 */
final class CompactionAgent implements Agent {
    private final ShardTable shards;

    CompactionAgent(ShardTable shards) {
        this.shards = shards;
    }

    @Override
    public int doWork() {
        if (shards.isClosed()) {
            throw new AgentTerminationException();
        }
        return shards.maintainIdleShards();
    }

    @Override
    public String roleName() {
        return "starshard-compaction";
    }
}
