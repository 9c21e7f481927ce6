package io.starshard.internal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The new shards of a rebalance are sized for their share before entries move in, so none grows while they
 * arrive: entries leave their old tables in home-group order, and inserted in that order into tables still
 * growing they would overflow group after group (probe paths growing with every insert).
 */
class RebalancePresizeTest {
    @Test
    void noNewShardGrowsWhileARebalanceFillsIt() {
        final MapEngine<Long, Long> engine = Engines.longToLong(64, 1 << 10);
        try {
            for (long k = 0; k < 200_000; k++) {
                engine.putLong(k, k, -1);
            }
            engine.rebalanceTo(4);
            final ShardTable.Layout l = engine.shardTable().layout();
            assertEquals(4, l.count);
            long entries = 0;
            for (int i = 0; i < l.count; i++) {
                final var stats = ShardTable.shardAt(l.active, i).segment.stats();
                assertEquals(0, stats.growths(), "shard " + i + " grew while the rebalance filled it: " + stats);
                entries += stats.entries();
            }
            assertEquals(200_000, entries);
            assertTrue(engine.size() == 200_000);
        } finally {
            engine.close();
        }
    }
}
