/**
 * Replication of the off-heap map through Aeron Cluster (Raft): {@link io.starshard.replication.ReplicatedShardedHashMap}
 * and its builder. Writes are commands in the cluster's log, applied deterministically by every member; reads are
 * local. See {@code docs/replication.md}.
 */
package io.starshard.replication;
