package io.starshard.internal;

import io.starshard.PersistenceListener;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentTerminationException;
import org.agrona.concurrent.SleepingIdleStrategy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.ref.Cleaner;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The directory of a persisted map: an exclusive lock, the latest checkpoint (a map file, {@link MapFileFormat}) and
 * the journal generations written since ({@link Journal}). The segments themselves stay in the map's off-heap
 * memory; the directory holds what rebuilds them.
 *
 * <pre>
 * starshard.lock                 held (FileChannel.tryLock) by the one process that has the map open
 * checkpoint-G.map               the map as of the start of generation G
 * journal-G-L.log, G' &gt;= G       every write since, by lane L; generations replay in order, lanes independently
 * </pre>
 *
 * <p>Opening replays the latest checkpoint and every journal generation from its own on; records are absolute
 * ("this key has this value", "this key is absent", "this range is empty"), so a record the checkpoint already
 * holds replays to the same state. If anything was replayed a new checkpoint is written, so the replayed journals
 * can go. A checkpoint ({@link #checkpoint}) starts a new journal generation, saves the map (per-shard consistent,
 * writers carry on), renames the file into place, and only then deletes what it replaces: a crash at any point
 * leaves a checkpoint and every journal generation after it.
 */
public final class PersistedStore {
    private static final System.Logger LOG = System.getLogger("io.starshard.ShardedHashMap");
    private static final Cleaner CLEANER = Cleaner.create();
    private static final String LOCK_FILE = "starshard.lock";
    private static final Pattern CHECKPOINT = Pattern.compile("checkpoint-(\\d{1,18})\\.map");
    private static final Pattern JOURNAL = Pattern.compile("journal-(\\d{1,18})-(\\d{1,4})\\.log");

    private final Path directory;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final Object checkpointLock = new Object();
    private MapEngine<?, ?> engine;
    private Journal journal;
    private long checkpointAfterBytes;
    /** Guarded by {@link #checkpointLock}. */
    private boolean closing;
    private volatile boolean closed;

    private PersistedStore(Path directory, FileChannel lockChannel, FileLock lock) {
        this.directory = directory;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /**
     * Creates {@code directory} if needed and takes its lock.
     *
     * @param directory the map's directory
     * @return the store, locked
     *
     * @throws IllegalStateException if another process, or this one, has the map open
     * @throws IOException           if the directory or its lock file cannot be created
     */
    public static PersistedStore lock(Path directory) throws IOException {
        final Path dir = directory.toAbsolutePath();
        Files.createDirectories(dir);
        final Path lockFile = dir.resolve(LOCK_FILE);
        final FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            channel.close();
            throw new IllegalStateException("the persisted map in " + dir + " is already open in this JVM; close"
                + " that map first (one map per directory)");
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            throw new IllegalStateException("the persisted map in " + dir + " is open for writing by another"
                + " process (" + lockFile + " is locked); it was not opened, and nothing was changed");
        }
        return new PersistedStore(dir, channel, lock);
    }

    /**
     * The hash seed the directory's map was written with.
     *
     * @return the latest checkpoint's seed, or null for a new map
     *
     * @throws io.starshard.CorruptedFileException if the checkpoint does not check
     */
    public Long hashSeed() throws IOException {
        final Path checkpoint = latestCheckpoint();
        if (checkpoint == null) {
            return null;
        }
        try (MapFileReader reader = new MapFileReader(checkpoint)) {
            return reader.header().seed();
        }
    }

    /**
     * Rebuilds the map into {@code engine} (new, empty, with the seed of {@link #hashSeed} if there was one), starts a
     * journal generation, makes the engine journal its writes, and starts the checkpoint thread.
     *
     * @param engine               the map's engine
     * @param checkpointAfterBytes journal bytes after which a checkpoint is taken in the background
     * @param listener             progress of the checkpoint's load, or null
     * @throws io.starshard.CorruptedFileException if the checkpoint or a journal does not check
     * @throws IOException                         if a file cannot be read or written
     */
    public void open(MapEngine<?, ?> engine, long checkpointAfterBytes, PersistenceListener listener)
        throws IOException {
        this.engine = engine;
        this.checkpointAfterBytes = checkpointAfterBytes;
        deleteLeftovers();
        final Path checkpoint = latestCheckpoint();
        final long base = checkpoint == null ? 0 : generationOf(checkpoint);
        if (checkpoint != null) {
            try (MapFileReader reader = new MapFileReader(checkpoint)) {
                reader.loadInto(engine, listener);
            }
        }
        final TreeMap<Long, List<Path>> journals = journalsFrom(base);
        long replayed = 0;
        long last = base;
        for (var generationFiles : journals.entrySet()) {
            for (Path lane : generationFiles.getValue()) {
                final Matcher m = JOURNAL.matcher(lane.getFileName().toString());
                m.matches();
                replayed += JournalReader.replay(lane, generationFiles.getKey(), Integer.parseInt(m.group(2)),
                    engine);
            }
            last = generationFiles.getKey();
        }
        final long next = last + 1;
        journal = new Journal(directory, engine.codec().hasher().seed(), engine.codec().maxEntryBytes(),
            Journal.laneBitsFor(Runtime.getRuntime().availableProcessors()));
        journal.startGeneration(next);
        engine.attachPersistence(this, journal);
        synchronized (checkpointLock) {
            if (checkpoint == null || replayed > 0) {
                writeCheckpoint(next);
            } else {
                deleteBefore(next, false);   // the journals after the checkpoint were empty: it stays the latest
            }
        }
        BackgroundAgents.start(new CheckpointAgent(), new SleepingIdleStrategy(TimeUnit.MILLISECONDS.toNanos(20)));
    }

    /**
     * Releases the store's files when {@code owner} (the map) becomes unreachable without being closed. The
     * journal holds every write, so the next open finds them all.
     *
     * @param owner the map
     */
    public void registerLeakCleaner(Object owner) {
        final Journal j = journal;
        final FileChannel channel = lockChannel;
        CLEANER.register(owner, () -> {
            j.close();
            try {
                channel.close();
            } catch (IOException ignored) {
                // the lock goes with the process anyway
            }
        });
    }

    /**
     * Takes a checkpoint now: a new journal generation, the map saved beside the previous checkpoint, then the files
     * it replaces deleted. Writers carry on meanwhile (their writes go to the new generation).
     *
     * @throws IOException           if the checkpoint cannot be written (the previous one and every journal stay)
     * @throws IllegalStateException if the map is closed
     */
    public void checkpoint() throws IOException {
        synchronized (checkpointLock) {
            if (closing) {
                throw new IllegalStateException("map is closed");
            }
            final long next = journal.generation() + 1;
            journal.startGeneration(next);
            writeCheckpoint(next);
        }
    }

    /**
     * Forces every journaled write to the storage device: after it returns, they survive a power loss too.
     *
     * @throws IOException if the device reports a failure
     */
    public void sync() throws IOException {
        if (closed) {
            throw new IllegalStateException("map is closed");
        }
        journal.force();
    }

    /**
     * Returns the directory.
     *
     * @return the directory
     */
    public Path directory() {
        return directory;
    }

    /** The map is closing: the last checkpoint, while it can still be read. A failure is logged, not thrown. */
    void beforeClose() {
        synchronized (checkpointLock) {
            if (closing) {
                return;
            }
            try {
                if (journal.appendedBytes() > 0) {
                    final long next = journal.generation() + 1;
                    journal.startGeneration(next);
                    writeCheckpoint(next);
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "the checkpoint at close failed; the journal in " + directory
                    + " keeps every write and the next open replays it", e);
            }
            closing = true;
        }
    }

    /** The map is closed (no write is in progress): close the journal, release the lock. */
    void afterClose() {
        synchronized (checkpointLock) {
            if (closed) {
                return;
            }
            closed = true;
            if (journal != null) {
                journal.close();
            }
            try {
                lock.release();
                lockChannel.close();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "releasing the lock of " + directory + " failed", e);
            }
        }
    }

    /** Opening failed: whatever is open is closed and the lock released, without a checkpoint. Idempotent. */
    public void abandon() {
        synchronized (checkpointLock) {
            closing = true;
        }
        afterClose();
    }

    /** Saves checkpoint {@code next} (journals from {@code next} on follow it), then deletes what it replaces. */
    private void writeCheckpoint(long next) throws IOException {
        MapFileWriter.save(engine, directory.resolve("checkpoint-" + next + ".map"), null);
        deleteBefore(next, true);
    }

    /** Deletes the journals, and if {@code checkpoints} the checkpoints, of the generations before {@code next}. */
    private void deleteBefore(long next, boolean checkpoints) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory)) {
            for (Path file : files) {
                final String name = file.getFileName().toString();
                final Matcher c = CHECKPOINT.matcher(name);
                final Matcher j = JOURNAL.matcher(name);
                final long g = c.matches() && checkpoints ? Long.parseLong(c.group(1))
                    : j.matches() ? Long.parseLong(j.group(1)) : -1;
                if (g >= 0 && g < next) {
                    Files.deleteIfExists(file);
                }
            }
        }
    }

    /** Deletes what a save or a journal switch that was cut short left behind. */
    private void deleteLeftovers() throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory,
            "{*.saving,*" + JournalLane.CREATING_SUFFIX + "}")) {
            for (Path file : files) {
                Files.deleteIfExists(file);
            }
        }
    }

    private Path latestCheckpoint() throws IOException {
        Path latest = null;
        long best = -1;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "checkpoint-*.map")) {
            for (Path file : files) {
                final long g = generationOf(file);
                if (g > best) {
                    best = g;
                    latest = file;
                }
            }
        }
        return latest;
    }

    private static long generationOf(Path checkpoint) {
        final Matcher m = CHECKPOINT.matcher(checkpoint.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    /** The journal files of generation {@code from} and later, by generation. */
    private TreeMap<Long, List<Path>> journalsFrom(long from) throws IOException {
        final TreeMap<Long, List<Path>> byGeneration = new TreeMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "journal-*.log")) {
            for (Path file : files) {
                final Matcher m = JOURNAL.matcher(file.getFileName().toString());
                if (m.matches()) {
                    final long g = Long.parseLong(m.group(1));
                    if (g >= from) {
                        byGeneration.computeIfAbsent(g, k -> new ArrayList<>()).add(file);
                    }
                }
            }
        }
        for (List<Path> lanes : byGeneration.values()) {
            lanes.sort(null);
        }
        return byGeneration;
    }

    /** Takes a checkpoint once the current generation's journal has grown past the threshold. */
    private final class CheckpointAgent implements Agent {
        /** Journal bytes at which the next attempt is made: pushed on after a failed one. */
        private long threshold = checkpointAfterBytes;

        @Override
        public int doWork() {
            if (closed || closing) {
                throw new AgentTerminationException();
            }
            if (journal.appendedBytes() < threshold) {
                return 0;
            }
            try {
                checkpoint();
                threshold = checkpointAfterBytes;
            } catch (IOException | UncheckedIOException e) {
                LOG.log(System.Logger.Level.WARNING, "a background checkpoint of " + directory + " failed; the"
                    + " journal keeps every write, the next attempt follows " + checkpointAfterBytes + " more bytes",
                    e);
                threshold = journal.appendedBytes() + checkpointAfterBytes;
            } catch (IllegalStateException closedMeanwhile) {
                throw new AgentTerminationException();
            }
            return 1;
        }

        @Override
        public String roleName() {
            return "starshard-checkpoint";
        }
    }
}
