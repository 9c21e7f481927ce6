package io.starshard.jmh.segment;

import com.sun.management.HotSpotDiagnosticMXBean;
import io.starshard.offheap.EpochDomain;
import io.starshard.offheap.KeyHasher;
import io.starshard.offheap.OffHeapMemory;
import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentSpec;
import io.starshard.offheap.SegmentStats;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

import static io.starshard.jmh.segment.BytesWorkload.KEY_BYTES;
import static io.starshard.jmh.segment.BytesWorkload.VALUE_BYTES;

/**
 * Memory per entry of one off-heap {@link Segment} beside the heap maps of {@link SegmentBenchmark}; a plain
 * program, not a JMH benchmark. Prints Markdown tables.
 *
 * <p>For each size N (default 1K, 1M, 10M; override with arguments such as {@code 1000,1000000}):
 * <ul>
 *   <li><b>long -&gt; long</b>: an inline segment ({@code putLong}, {@code hashFixed} of the key) beside
 *       {@code HashMap<Long, Long>} and Agrona's {@code Long2LongHashMap};</li>
 *   <li><b>byte[16] -&gt; byte[100]</b>: an indirect segment beside {@code HashMap<ByteKey, byte[]>}, each
 *       entry owning its key and value arrays.</li>
 * </ul>
 * Every map starts at its default capacity and grows while N distinct random keys (the seeds of
 * {@link LongWorkload}) are inserted, as an application would fill it. Off-heap bytes are exact:
 * {@link OffHeapMemory#usedBytes()} of a memory accountant private to the segment, with the segment's
 * {@link SegmentStats} beside it. Heap bytes are the used-heap delta ({@code MemoryMXBean}) between two
 * settled points (several {@code System.gc()} calls and sleeps), with the workload's own arrays allocated
 * before the first point; below 1M entries, {@code 1M / N} identical copies are built and the delta is divided
 * by all their entries, so that GC noise stays far below a byte per entry; an unreported warm-up pass first
 * keeps class loading and JIT activity out of the first measurement. After each size the segments are
 * closed and their accountants must be back at 0 bytes and 0 allocations.
 *
 * <p>Run: {@code java --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED -Xmx12g -cp jmh/target/benchmarks.jar
 * io.starshard.jmh.segment.SegmentFootprint [sizes]}.
 */
public final class SegmentFootprint {
    /** Heap measurements build copies until this many entries in all, to drown measurement noise. */
    private static final int MIN_MEASURED_ENTRIES = 1_000_000;
    /** Seed of the segments' hashers (as in the benchmark adapters). */
    private static final long HASH_SEED = 0x5EED_0003L;

    /** True during the warm-up pass: nothing is printed. */
    private static boolean quiet;

    private SegmentFootprint() {
    }

    /** One segment's measurement. */
    private static final class OffHeap {
        final long usedBytes;
        final long peakBytes;
        final SegmentStats stats;
        final long heapBytes;
        final long bytesAfterClose;
        final long allocationsAfterClose;

        OffHeap(long usedBytes, long peakBytes, SegmentStats stats, long heapBytes, long bytesAfterClose,
                long allocationsAfterClose) {
            this.usedBytes = usedBytes;
            this.peakBytes = peakBytes;
            this.stats = stats;
            this.heapBytes = heapBytes;
            this.bytesAfterClose = bytesAfterClose;
            this.allocationsAfterClose = allocationsAfterClose;
        }
    }

    /** One row of the report: a workload at one size. */
    private static final class Row {
        final String workload;
        final int n;
        final int payloadBytes;
        final OffHeap segment;
        final double hashMap;
        final double long2Long;

        Row(String workload, int n, int payloadBytes, OffHeap segment, double hashMap, double long2Long) {
            this.workload = workload;
            this.n = n;
            this.payloadBytes = payloadBytes;
            this.segment = segment;
            this.hashMap = hashMap;
            this.long2Long = long2Long;
        }
    }

    /**
     * Measures and prints.
     *
     * @param args sizes, separated by spaces or commas, underscores allowed; default 1000 1000000 10000000
     */
    public static void main(String[] args) {
        final int[] sizes = sizes(args);
        printEnvironment();
        warmUp();
        final List<Row> rows = new ArrayList<>();
        for (int n : sizes) {
            System.out.printf(Locale.ROOT, "measuring N = %,d ...%n", n);
            rows.add(new Row("long -> long", n, 16, longSegment(n, false),
                heapBytesPerEntry(n, SegmentFootprint::longHashMap), heapBytesPerEntry(n, SegmentFootprint::long2LongMap)));
            // What a map built with expectedEntries(n) holds: one table near 7/8 load, no growth (segment only).
            rows.add(new Row("long -> long, presized", n, 16, longSegment(n, true), Double.NaN, Double.NaN));
            rows.add(new Row("byte[16] -> byte[100]", n, KEY_BYTES + VALUE_BYTES, bytesSegment(n),
                heapBytesPerEntry(n, SegmentFootprint::bytesHashMap), Double.NaN));
        }
        print(rows);
    }

    /**
     * Runs every fill once, small and unreported, so that class loading, static initialisers and the first JIT
     * compilations do not land in the first heap measurement.
     */
    private static void warmUp() {
        quiet = true;
        for (int round = 0; round < 3; round++) {
            longSegment(20_000, false);
            longSegment(20_000, true);
            bytesSegment(20_000);
            longHashMap(20_000);
            long2LongMap(20_000);
            bytesHashMap(20_000);
        }
        quiet = false;
    }

    private static int[] sizes(String[] args) {
        final List<Integer> sizes = new ArrayList<>();
        for (String arg : args) {
            for (String part : arg.split(",")) {
                final String digits = part.trim().replace("_", "");
                if (!digits.isEmpty()) {
                    final int n = Integer.parseInt(digits);
                    if (n <= 0) {
                        throw new IllegalArgumentException("sizes must be positive, got " + n);
                    }
                    sizes.add(n);
                }
            }
        }
        if (sizes.isEmpty()) {
            return new int[] {1_000, 1_000_000, 10_000_000};
        }
        return sizes.stream().mapToInt(Integer::intValue).toArray();
    }

    // ======================================================================================= off-heap segments

    /** Inline {@code long -> long} segment, filled with {@code putLong}; grown from empty or presized for n. */
    private static OffHeap longSegment(int n, boolean presized) {
        final KeyHasher hasher = new KeyHasher(HASH_SEED);
        final OffHeapMemory memory = OffHeapMemory.unlimited();
        final EpochDomain epochs = new EpochDomain();
        final SplittableRandom keys = new SplittableRandom(LongWorkload.KEY_SEED);
        final SplittableRandom values = new SplittableRandom(LongWorkload.VALUE_SEED);
        final long heapBefore = settledHeapBytes();
        final SegmentSpec spec = SegmentSpec.inline(8, 8, hasher);
        final Segment segment = new Segment(presized ? spec.withInitialEntries(n) : spec, memory, epochs);
        for (int i = 0; i < n; i++) {
            segment.putLong(hasher.hashFixed(keys.nextLong()), values.nextLong() >>> 1);
        }
        final long heapAfter = settledHeapBytes();
        return finish(segment, memory, n, heapBefore, heapAfter);
    }

    /** Indirect segment, 16-byte keys and 100-byte values (from a pool, as in {@link BytesWorkload}). */
    private static OffHeap bytesSegment(int n) {
        final KeyHasher hasher = new KeyHasher(HASH_SEED);
        final OffHeapMemory memory = OffHeapMemory.unlimited();
        final EpochDomain epochs = new EpochDomain();
        final SplittableRandom keys = new SplittableRandom(LongWorkload.KEY_SEED);
        final UnsafeBuffer key = new UnsafeBuffer(new byte[KEY_BYTES]);
        final UnsafeBuffer valuePool = valuePool();
        final long heapBefore = settledHeapBytes();
        final Segment segment = new Segment(SegmentSpec.indirect(BytesMapAdapter.MAX_ENTRY_BYTES), memory, epochs);
        for (int i = 0; i < n; i++) {
            key.putLong(0, keys.nextLong());
            key.putLong(8, keys.nextLong());
            segment.put(hasher.hash(key, 0, KEY_BYTES), key, 0, KEY_BYTES,
                valuePool, BytesWorkload.valueOffset(i), VALUE_BYTES);
        }
        final long heapAfter = settledHeapBytes();
        return finish(segment, memory, n, heapBefore, heapAfter);
    }

    /** Reads the accountant and the stats, closes the segment, and checks every byte came back. */
    private static OffHeap finish(Segment segment, OffHeapMemory memory, int n, long heapBefore, long heapAfter) {
        if (segment.size() != n) {
            throw new IllegalStateException("segment holds " + segment.size() + " entries after " + n + " inserts");
        }
        final long used = memory.usedBytes();
        final long peak = memory.peakBytes();
        final SegmentStats stats = segment.stats();
        if (stats.allocatedBytes() != used && !quiet) {
            System.out.printf(Locale.ROOT, "  note: stats.allocatedBytes() = %,d but the accountant holds %,d%n",
                stats.allocatedBytes(), used);
        }
        segment.close();
        final long afterClose = memory.usedBytes();
        final long allocationsAfterClose = memory.liveAllocations();
        if (!quiet) {
            System.out.printf(Locale.ROOT, "  %s segment, %,d entries: %,d off-heap bytes; after close: %d bytes, "
                + "%d live allocations%n", segment.spec().isInline() ? "inline" : "indirect", n, used, afterClose,
                allocationsAfterClose);
        }
        if (afterClose != 0 || allocationsAfterClose != 0) {
            throw new IllegalStateException("segment leaked: " + memory);
        }
        return new OffHeap(used, peak, stats, heapAfter - heapBefore, afterClose, allocationsAfterClose);
    }

    // ============================================================================================= heap maps

    /** {@code HashMap<Long, Long>}, default capacity, boxes created on insert. */
    private static Object longHashMap(int n) {
        final SplittableRandom keys = new SplittableRandom(LongWorkload.KEY_SEED);
        final SplittableRandom values = new SplittableRandom(LongWorkload.VALUE_SEED);
        final HashMap<Long, Long> map = new HashMap<>();
        for (int i = 0; i < n; i++) {
            map.put(keys.nextLong(), values.nextLong() >>> 1);
        }
        return checkSize(map.size(), n, map);
    }

    /** Agrona {@code Long2LongHashMap}, default capacity and load factor. */
    private static Object long2LongMap(int n) {
        final SplittableRandom keys = new SplittableRandom(LongWorkload.KEY_SEED);
        final SplittableRandom values = new SplittableRandom(LongWorkload.VALUE_SEED);
        final Long2LongHashMap map = new Long2LongHashMap(LongWorkload.MISSING);
        for (int i = 0; i < n; i++) {
            map.put(keys.nextLong(), values.nextLong() >>> 1);
        }
        return checkSize(map.size(), n, map);
    }

    /** Shared by every {@link #bytesHashMap} call; allocated before the first heap measurement. */
    private static final byte[] VALUE_POOL = valuePool().byteArray();

    /** {@code HashMap<ByteKey, byte[]>}, default capacity; each entry owns its key and its value array. */
    private static Object bytesHashMap(int n) {
        final SplittableRandom keys = new SplittableRandom(LongWorkload.KEY_SEED);
        final HashMap<ByteKey, byte[]> map = new HashMap<>();
        final UnsafeBuffer key = new UnsafeBuffer(new byte[KEY_BYTES]);
        for (int i = 0; i < n; i++) {
            final byte[] keyBytes = new byte[KEY_BYTES];
            key.wrap(keyBytes);
            key.putLong(0, keys.nextLong());
            key.putLong(8, keys.nextLong());
            final byte[] value = new byte[VALUE_BYTES];
            System.arraycopy(VALUE_POOL, BytesWorkload.valueOffset(i), value, 0, VALUE_BYTES);
            map.put(new ByteKey(keyBytes), value);
        }
        return checkSize(map.size(), n, map);
    }

    private static Object checkSize(int size, int n, Object map) {
        if (size != n) {
            throw new IllegalStateException(map.getClass().getSimpleName() + " holds " + size + " entries after "
                + n + " inserts");
        }
        return map;
    }

    /**
     * Heap bytes per entry of the maps {@code build} makes: used-heap delta over enough copies to hold at least
     * {@value #MIN_MEASURED_ENTRIES} entries in all.
     */
    private static double heapBytesPerEntry(int n, IntFunction<Object> build) {
        final int copies = Math.max(1, MIN_MEASURED_ENTRIES / n);
        final Object[] maps = new Object[copies];
        final long before = settledHeapBytes();
        for (int c = 0; c < copies; c++) {
            maps[c] = build.apply(n);
        }
        final long after = settledHeapBytes();
        Reference.reachabilityFence(maps);
        return (after - before) / ((double) n * copies);
    }

    // ================================================================================================ helpers

    private static UnsafeBuffer valuePool() {
        final SplittableRandom random = new SplittableRandom(LongWorkload.VALUE_SEED);
        final byte[] pool = new byte[BytesWorkload.VALUE_POOL * VALUE_BYTES];
        for (int i = 0; i < pool.length; i++) {
            pool[i] = (byte) random.nextInt();
        }
        return new UnsafeBuffer(pool);
    }

    /** Used heap after several full collections (the smallest reading), as {@code map.Workload} does it. */
    private static long settledHeapBytes() {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 4; i++) {
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    private static void printEnvironment() {
        final StringBuilder gcs = new StringBuilder();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            gcs.append(gcs.length() == 0 ? "" : ", ").append(gc.getName());
        }
        String oops = "?";
        try {
            oops = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                .getVMOption("UseCompressedOops").getValue();
        } catch (RuntimeException e) {
            // not HotSpot: leave "?"
        }
        System.out.printf(Locale.ROOT, "JVM %s (%s), max heap %,d MB, GC: %s, compressed oops: %s%n",
            System.getProperty("java.vm.version"), System.getProperty("java.vm.name"),
            Runtime.getRuntime().maxMemory() >> 20, gcs, oops);
    }

    private static String orNa(double bytesPerEntry) {
        return Double.isNaN(bytesPerEntry) ? "n/a" : String.format(Locale.ROOT, "%.1f", bytesPerEntry);
    }

    private static void print(List<Row> rows) {
        System.out.println();
        System.out.println("Bytes per entry (off-heap for the segment, heap for the others; every map grown from its"
            + " default capacity unless marked presized). The segment's own heap objects are a constant, shown in total in the last column"
            + " (a used-heap delta: a few KB either way is noise).");
        System.out.println();
        System.out.println("| workload | entries | payload B/entry | segment off-heap bytes | segment off-heap B/entry"
            + " | HashMap heap B/entry | Long2LongHashMap heap B/entry | segment heap bytes (total) |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "| %s | %,d | %d | %,d | %.1f | %s | %s | %,d |%n", r.workload, r.n,
                r.payloadBytes, r.segment.usedBytes, r.segment.usedBytes / (double) r.n, orNa(r.hashMap),
                orNa(r.long2Long),
                r.segment.heapBytes);
        }
        System.out.println();
        System.out.println("Segment detail (SegmentStats; the accountant's peak includes the old table during the"
            + " last growth):");
        System.out.println();
        System.out.println("| workload | entries | capacity (slots) | load factor | table bytes | arena bytes"
            + " | live entry bytes | arena fragmentation | growths | peak off-heap bytes | used after close |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (Row r : rows) {
            final SegmentStats s = r.segment.stats;
            System.out.printf(Locale.ROOT, "| %s | %,d | %,d | %.3f | %,d | %,d | %,d | %.1f%% | %d | %,d | %d B, %d"
                + " allocations |%n", r.workload, r.n, s.capacity(), s.loadFactor(), s.tableBytes(), s.arenaBytes(),
                s.liveEntryBytes(), 100 * s.fragmentation(), s.growths(), r.segment.peakBytes,
                r.segment.bytesAfterClose, r.segment.allocationsAfterClose);
        }
    }
}
