package io.starshard.jmh.map;

import io.starshard.ShardedHashMap;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import org.caffinitas.ohc.OHCache;
import org.caffinitas.ohc.OHCacheBuilder;

import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The footprint of the same churning workload in Starshard, {@code ConcurrentHashMap}, Chronicle Map and OHC: what
 * a cache of values whose sizes vary costs each of them once it has been in use for a while, and after most of
 * its keys are gone.
 *
 * <p>{@code Long -> byte[]}, value sizes uniform in 64 B .. 4 KiB; 100K keys loaded, their values replaced N times
 * (default 1M) by new random sizes, then 99 % of the keys removed. Each map is sized for 100K entries of the
 * average size (Chronicle's {@code averageValueSize}, OHC's capacity with room to spare so that it never
 * evicts). Reported per stage: bytes the map holds per live user byte (8 per key plus the value's length):
 * off-heap from each map's own accountant (Starshard {@code usedBytes}, Chronicle {@code offHeapMemoryUsed}, OHC
 * {@code memUsed}) and, for {@code ConcurrentHashMap}, the heap after full collections. Starshard also calls
 * {@code compact()} after the removals; the others have no such call.
 *
 * <p>Run with the map's flag and Chronicle's (the {@code starshard.bench.peer.flags} of {@code jmh/pom.xml}):
 * <pre>{@code java --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED <peer flags> -Xmx4g \
 *   -cp jmh/target/benchmarks.jar io.starshard.jmh.map.MemoryPeers [replacements]}</pre>
 */
public final class MemoryPeers {
    private static final int KEYS = 100_000;
    private static final int MIN_VALUE = 64;
    private static final int MAX_VALUE = 4096;

    private MemoryPeers() {
    }

    /**
     * One map under test: how to put and remove, what it holds (by its own account, or the settled heap for an
     * on-heap map), how to ask it for memory back (0 if it cannot be asked), and how to close it.
     */
    private record Subject(java.util.function.BiConsumer<Long, byte[]> put, java.util.function.LongConsumer remove,
                           java.util.function.LongSupplier bytes, java.util.function.LongSupplier compact,
                           Runnable close) {
    }

    /**
     * Runs the workload on every map and prints one line per stage.
     *
     * @param args the number of replacements (default 1,000,000)
     */
    public static void main(String[] args) {
        final long replacements = args.length > 0 ? Long.parseLong(args[0]) : 1_000_000L;
        System.out.printf(Locale.ROOT, "MemoryPeers: %,d keys, Long -> byte[%d..%d], %,d replacements, %s%n%n", KEYS,
            MIN_VALUE, MAX_VALUE, replacements, Runtime.version());
        for (String name : new String[] {"Starshard", "ConcurrentHashMap", "ChronicleMap", "OHC"}) {
            run(name, replacements);
        }
    }

    private static Subject open(String name) {
        switch (name) {
            case "Starshard": {
                final ShardedHashMap<Long, byte[]> map = ShardedHashMap.create(Long.class, byte[].class);
                return new Subject(map::put, map::remove, () -> map.memoryStats().usedBytes(), map::compact, map::close);
            }
            case "ConcurrentHashMap": {
                final long before = Workload.settledHeapBytes();
                final ConcurrentHashMap<Long, byte[]> map = new ConcurrentHashMap<>(KEYS * 4 / 3 + 1);
                return new Subject(map::put, map::remove, () -> Workload.settledHeapBytes() - before, () -> 0,
                    map::clear);
            }
            case "ChronicleMap": {
                final ChronicleMap<Long, byte[]> map = ChronicleMapBuilder.of(Long.class, byte[].class)
                    .averageValueSize((MIN_VALUE + MAX_VALUE) / 2.0).entries(KEYS).create();
                return new Subject(map::put, map::remove, map::offHeapMemoryUsed, () -> 0, map::close);
            }
            case "OHC": {
                final OHCache<Long, byte[]> cache = OHCacheBuilder.<Long, byte[]>newBuilder()
                    .keySerializer(LongMap.LongSerializer.INSTANCE).valueSerializer(BytesMap.BytesSerializer.INSTANCE)
                    .capacity(KEYS * (long) MAX_VALUE * 2).build();
                return new Subject(cache::put, cache::remove, cache::memUsed, () -> 0, () -> {
                    try {
                        cache.close();
                    } catch (java.io.IOException e) {
                        throw new IllegalStateException(e);
                    }
                });
            }
            default:
                throw new IllegalArgumentException(name);
        }
    }

    private static void run(String name, long replacements) {
        final SplittableRandom random = new SplittableRandom(7);
        final int[] sizes = new int[KEYS];
        long live = 0;
        final Subject map = open(name);
        try {
            for (int k = 0; k < KEYS; k++) {
                sizes[k] = size(random);
                map.put().accept((long) k, new byte[sizes[k]]);
                live += Long.BYTES + sizes[k];
            }
            report(name, "loaded", map.bytes().getAsLong(), live);
            for (long i = 0; i < replacements; i++) {
                final int k = random.nextInt(KEYS);
                final int size = size(random);
                map.put().accept((long) k, new byte[size]);
                live += size - sizes[k];
                sizes[k] = size;
            }
            report(name, "after the replacements", map.bytes().getAsLong(), live);
            for (int k = 0; k < KEYS; k++) {
                if (k % 100 != 0) {
                    map.remove().accept(k);
                    live -= Long.BYTES + sizes[k];
                }
            }
            report(name, "99 % of the keys removed", map.bytes().getAsLong(), live);
            if (map.compact().getAsLong() > 0) {
                report(name, "after compact()", map.bytes().getAsLong(), live);
            }
        } finally {
            map.close().run();
        }
        System.out.println();
    }

    private static int size(SplittableRandom random) {
        return MIN_VALUE + random.nextInt(MAX_VALUE - MIN_VALUE + 1);
    }

    private static void report(String name, String stage, long bytes, long live) {
        System.out.printf(Locale.ROOT, "%-18s %-24s holds %8.1f MiB for %7.1f MiB live: %5.2fx%n", name, stage,
            bytes / 1048576.0, live / 1048576.0, (double) bytes / live);
    }
}
