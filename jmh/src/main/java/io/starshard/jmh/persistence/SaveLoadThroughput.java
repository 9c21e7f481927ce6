package io.starshard.jmh.persistence;

import io.starshard.ShardedHashMap;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * How fast a map is saved and loaded, next to {@code Files.copy} of a file of the same size in the same run: the
 * copy is what the disk and page cache can do, so the ratio says how much of it the format's work (exporting under
 * locks, checksums, checking every record, inserting) costs.
 *
 * <p>{@code Long -> Long}, 64 shards, N entries (default 10M); each step runs several times and the best is
 * reported, so that one descheduling does not decide the figure. MB/s are of the file's size.
 *
 * <p>Run with the map's flag and Chronicle's (the {@code starshard.bench.peer.flags} of {@code jmh/pom.xml}):
 * <pre>{@code java --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED <peer flags> -Xmx2g \
 *   -cp jmh/target/benchmarks.jar io.starshard.jmh.persistence.SaveLoadThroughput [entries] [directory]}</pre>
 */
public final class SaveLoadThroughput {
    private static final int ROUNDS = 3;

    private SaveLoadThroughput() {
    }

    /**
     * @param args entries (default 10M), directory for the files (default a temporary one)
     * @throws IOException if the files cannot be written
     */
    public static void main(String[] args) throws IOException {
        final int entries = args.length > 0 ? Integer.parseInt(args[0]) : 10_000_000;
        final Path dir = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("starshard-bench");
        final Path file = dir.resolve("map.bin");
        final Path copy = dir.resolve("copy.bin");
        try (ShardedHashMap<Long, Long> map = ShardedHashMap.builder(Long.class, Long.class)
            .expectedEntries(entries).build()) {
            for (long k = 0; k < entries; k++) {
                map.putLong(k, k, -1);
            }
            long save = Long.MAX_VALUE;
            long copyNanos = Long.MAX_VALUE;
            long load = Long.MAX_VALUE;
            for (int round = 0; round < ROUNDS; round++) {
                long t = System.nanoTime();
                map.save(file);
                save = Math.min(save, System.nanoTime() - t);
                t = System.nanoTime();
                Files.copy(file, copy, StandardCopyOption.REPLACE_EXISTING);
                copyNanos = Math.min(copyNanos, System.nanoTime() - t);
                t = System.nanoTime();
                try (ShardedHashMap<Long, Long> loaded = ShardedHashMap.builder(Long.class, Long.class).load(file)) {
                    load = Math.min(load, System.nanoTime() - t);
                    if (loaded.mappingCount() != entries || loaded.getLong(entries - 1L, -1) != entries - 1L) {
                        throw new IllegalStateException("the loaded map differs: " + loaded.mappingCount());
                    }
                }
            }
            final long bytes = Files.size(file);
            System.out.printf(Locale.ROOT, "%,d entries, file %.1f MiB%n", entries, bytes / 1048576.0);
            System.out.printf(Locale.ROOT, "save        %7.0f ms  %7.0f MB/s  %.2fx the copy%n", save / 1e6,
                bytes / (save / 1e9) / 1e6, (double) copyNanos / save);
            System.out.printf(Locale.ROOT, "load        %7.0f ms  %7.0f MB/s  %.2fx the copy%n", load / 1e6,
                bytes / (load / 1e9) / 1e6, (double) copyNanos / load);
            System.out.printf(Locale.ROOT, "Files.copy  %7.0f ms  %7.0f MB/s%n", copyNanos / 1e6,
                bytes / (copyNanos / 1e9) / 1e6);
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(copy);
        }
    }
}
