/**
 * The map replicated on an Aeron Cluster: {@link io.starshard.replication.ReplicatedShardedHashMap}. A module of its
 * own so that users of the in-memory map get no Aeron dependency.
 */
module io.starshard.replication {
    requires transitive io.starshard;
    requires transitive org.agrona;
    requires io.aeron.client;
    requires io.aeron.driver;
    requires io.aeron.archive;
    requires io.aeron.cluster;
    requires chronicle.bytes;

    exports io.starshard.replication;
}
