package io.starshard.replication;

import io.starshard.ShardedHashMap;
import io.starshard.ShardedHashMapBuilder;
import io.starshard.codec.Codec;
import io.starshard.codec.Codecs;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Settings of one member of a replicated map. Every member of a cluster must be given the same map settings (types,
 * codecs, shards, entry limit, hash seed, functions, maxInFlight) and the same member list: the members apply
 * the same log and must reach the same state. Only {@link #memberId} and the directories differ.
 *
 * <p>There is no memory budget: a budget counts memory that local readers still hold, which differs between
 * members, so a write near the limit could fail on one member and not on another and the maps would diverge.
 *
 * <p>The defaults run three members on one machine (loopback, ports from 20000): what tests and the demo use. For
 * three machines, give each the same {@link #members} host list and its own {@link #memberId}.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class ReplicatedMapBuilder<K, V> {
    /** The hash seed when none is set: fixed, because every member must hash alike. */
    public static final long DEFAULT_HASH_SEED = 0x5EED_5EED_5EED_5EEDL;

    private final Class<? super K> keyType;
    private final Class<? super V> valueType;
    private Codec<K> keyCodec;
    private Codec<V> valueCodec;
    private int shards = 16;
    private int maxEntryBytes;
    private long hashSeed = DEFAULT_HASH_SEED;
    private int memberId = -1;
    private List<String> hosts = List.of("localhost", "localhost", "localhost");
    private int portBase = 20000;
    private Path directory;
    private Path aeronDirectory;
    private Supplier<IdleStrategy> idleStrategy = () -> new BackoffIdleStrategy(10, 20,
        TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1));
    private Duration heartbeatTimeout = Duration.ofSeconds(2);
    private boolean fsync;
    private int maxInFlight = 256;
    private Duration operationTimeout = Duration.ofSeconds(30);
    private Duration startTimeout = Duration.ofSeconds(60);
    private Duration startRetry = Duration.ofSeconds(30);
    private Duration dedupRetention = Duration.ofHours(1);
    private int logTermLength = 16 * 1024 * 1024;
    private ErrorHandler errorHandler;
    private final Map<String, ReplicatedFunction<V>> functions = new LinkedHashMap<>();

    ReplicatedMapBuilder(Class<? super K> keyType, Class<? super V> valueType) {
        this.keyType = Objects.requireNonNull(keyType, "keyType");
        this.valueType = Objects.requireNonNull(valueType, "valueType");
    }

    /**
     * The key codec (default: the built-in codec of the key class, else Kryo).
     *
     * @param codec the codec
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> keyCodec(Codec<K> codec) {
        this.keyCodec = Objects.requireNonNull(codec, "keyCodec");
        return this;
    }

    /**
     * The value codec (default: the built-in codec of the value class, else Kryo).
     *
     * @param codec the codec
     * @return this builder
     */
    @SuppressWarnings("unchecked")
    public ReplicatedMapBuilder<K, V> valueCodec(Codec<? super V> codec) {
        this.valueCodec = (Codec<V>) Objects.requireNonNull(codec, "valueCodec");
        return this;
    }

    /**
     * The shard count of every member's map (default 16); change it later with
     * {@link ReplicatedShardedHashMap#rebalanceTo}, a command in the log.
     *
     * @param shards 1 to {@value ShardedHashMap#MAX_SHARDS}
     * @return this builder
     * @throws IllegalArgumentException if out of range
     */
    public ReplicatedMapBuilder<K, V> shards(int shards) {
        this.shards = requireRange("shards", shards, 1, ShardedHashMap.MAX_SHARDS);
        return this;
    }

    /**
     * The limit on one entry's encoded key plus value (default: the map's, 1 MiB).
     *
     * @param bytes the limit
     * @return this builder
     * @throws IllegalArgumentException if not positive
     */
    public ReplicatedMapBuilder<K, V> maxEntryBytes(int bytes) {
        this.maxEntryBytes = requireRange("maxEntryBytes", bytes, 1, Integer.MAX_VALUE);
        return this;
    }

    /**
     * The key hash seed (default {@link #DEFAULT_HASH_SEED}); the same on every member, recorded in snapshots.
     *
     * @param seed the seed
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> hashSeed(long seed) {
        this.hashSeed = seed;
        return this;
    }

    /**
     * This member's index in {@link #members} (required).
     *
     * @param id 0 to members - 1
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> memberId(int id) {
        this.memberId = requireRange("memberId", id, 0, 1 << 16);
        return this;
    }

    /**
     * The members' host names or addresses, in member-id order (default three times {@code localhost}). Three or
     * five members survive one or two failures; an even count adds nothing.
     *
     * @param hosts one per member
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> members(List<String> hosts) {
        if (hosts.isEmpty()) {
            throw new IllegalArgumentException("members must name at least one host");
        }
        hosts.forEach(h -> Objects.requireNonNull(h, "members contains null"));
        this.hosts = List.copyOf(hosts);
        return this;
    }

    /**
     * The first port (default 20000): member m uses {@code portBase + 10 m} to {@code portBase + 10 m + 4}.
     *
     * @param port 1024 to 60000
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> portBase(int port) {
        this.portBase = requireRange("portBase", port, 1024, 60000);
        return this;
    }

    /**
     * This member's directory (required): the log, snapshots and their catalog live here; keep it on a disk of the
     * member's own. A member restarted on the same directory recovers from its snapshot and the log.
     *
     * @param directory the directory, created if needed
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> directory(Path directory) {
        this.directory = Objects.requireNonNull(directory, "directory");
        return this;
    }

    /**
     * The media driver's directory (default {@code directory/aeron}). {@code /dev/shm} is faster where it exists.
     *
     * @param directory the directory, emptied at start and deleted at close
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> aeronDirectory(Path directory) {
        this.aeronDirectory = Objects.requireNonNull(directory, "aeronDirectory");
        return this;
    }

    /**
     * How the member's threads wait for work (default: spin, yield, then park up to 1 ms). A busy-spinning
     * strategy gives the lowest latency on dedicated cores and starves everything else on shared ones.
     *
     * @param idleStrategy a supplier of a new strategy per thread
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> idleStrategy(Supplier<IdleStrategy> idleStrategy) {
        this.idleStrategy = Objects.requireNonNull(idleStrategy, "idleStrategy");
        return this;
    }

    /**
     * How long followers wait for the leader's heartbeat before electing a new one (default 2 s): the failover
     * time's main part. Too short and a GC pause or a busy machine causes needless elections.
     *
     * @param timeout at least 50 ms
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> heartbeatTimeout(Duration timeout) {
        if (timeout.toMillis() < 50) {
            throw new IllegalArgumentException("heartbeatTimeout must be at least 50 ms, was " + timeout);
        }
        this.heartbeatTimeout = timeout;
        return this;
    }

    /**
     * Whether the log and its catalog are forced to disk before they count (default false). Without it a write is
     * durable once a majority of members hold it in memory; with it, once a majority have it on disk, which
     * survives a power loss of every member at once, at a cost in latency.
     *
     * @param fsync whether to force
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> fsync(boolean fsync) {
        this.fsync = fsync;
        return this;
    }

    /**
     * The most commands this member's client keeps unanswered (default 256); also the size of every client's
     * deduplication window on the members, so it must be the same everywhere.
     *
     * @param commands 1 to 65536
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> maxInFlight(int commands) {
        this.maxInFlight = requireRange("maxInFlight", commands, 1, 1 << 16);
        return this;
    }

    /**
     * How long a blocking operation waits for the cluster (default 30 s) before it throws a
     * {@link ReplicationException}; the command is still resent and may still be applied, once.
     *
     * @param timeout the timeout
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> operationTimeout(Duration timeout) {
        this.operationTimeout = requirePositive("operationTimeout", timeout);
        return this;
    }

    /**
     * How long {@link #build()} waits for the member to start and load its snapshot (default 60 s).
     *
     * @param timeout the timeout
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> startTimeout(Duration timeout) {
        this.startTimeout = requirePositive("startTimeout", timeout);
        return this;
    }

    /**
     * How long {@link #build()} keeps retrying while the previous process's mark files still look alive (default
     * 30 s; Aeron needs about 10 s after a kill).
     *
     * @param timeout the timeout
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> startRetry(Duration timeout) {
        this.startRetry = requirePositive("startRetry", timeout);
        return this;
    }

    /**
     * How long (cluster time) members remember a silent client's recent commands (default 1 hour). A client that
     * resends after a longer silence gets a {@link ReplicationException} saying the outcome is unknown.
     *
     * @param retention the retention
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> dedupRetention(Duration retention) {
        this.dedupRetention = requirePositive("dedupRetention", retention);
        return this;
    }

    /**
     * The log's term length (default 16 MiB, a power of two from 64 KiB to 1 GiB); one command is at most an
     * eighth of it, so it also bounds a single write and a batch's message.
     *
     * @param bytes the term length
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> logTermLength(int bytes) {
        if (bytes < 64 * 1024 || bytes > 1 << 30 || Integer.bitCount(bytes) != 1) {
            throw new IllegalArgumentException("logTermLength must be a power of two from 64 KiB to 1 GiB, was "
                + bytes);
        }
        this.logTermLength = bytes;
        return this;
    }

    /**
     * Where Aeron's components report errors (default: one line on standard error per error).
     *
     * @param handler the handler
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> errorHandler(ErrorHandler handler) {
        this.errorHandler = Objects.requireNonNull(handler, "errorHandler");
        return this;
    }

    /**
     * Registers a deterministic function that {@link ReplicatedShardedHashMap#apply} can name; register the same
     * functions on every member.
     *
     * @param name     the name commands use
     * @param function the function
     * @return this builder
     */
    public ReplicatedMapBuilder<K, V> function(String name, ReplicatedFunction<V> function) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(function, "function");
        if (functions.putIfAbsent(name, function) != null) {
            throw new IllegalArgumentException("a function named '" + name + "' is already registered");
        }
        return this;
    }

    /**
     * Starts this member (its Aeron media driver, archive, consensus module and the map's service), loads its
     * snapshot and log, and connects its client; returns once the local map is ready for reads. Writes wait for
     * the cluster's leader, so start the other members too.
     *
     * @return the member's map
     * @throws CorruptedSnapshotException if the member's snapshot does not check
     * @throws ReplicationException       if the member cannot start in time
     * @throws IllegalStateException      if a required setting is missing
     */
    public ReplicatedShardedHashMap<K, V> build() {
        if (directory == null) {
            throw new IllegalStateException("directory is required: where this member keeps its log and snapshots");
        }
        if (memberId < 0 || memberId >= hosts.size()) {
            throw new IllegalStateException("memberId is required and must be below the member count "
                + hosts.size() + ", was " + memberId);
        }
        if (portBase + hosts.size() * ClusterNode.PORTS_PER_MEMBER > 65535) {
            throw new IllegalStateException("portBase " + portBase + " leaves no room for " + hosts.size()
                + " members' ports below 65536");
        }
        return new ReplicatedShardedHashMap<>(this);
    }

    @SuppressWarnings("unchecked")
    Codec<K> resolvedKeyCodec() {
        return keyCodec != null ? keyCodec : Codecs.forClass((Class<K>) keyType);
    }

    @SuppressWarnings("unchecked")
    Codec<V> resolvedValueCodec() {
        return valueCodec != null ? valueCodec : Codecs.forClass((Class<V>) valueType);
    }

    /** A builder of this member's local map: the same on every member. */
    ShardedHashMapBuilder<K, V> mapBuilder(Codec<K> keys, Codec<V> values) {
        final ShardedHashMapBuilder<K, V> builder = ShardedHashMap.<K, V>builder(keyType, valueType)
            .keyCodec(keys)
            .valueCodec(values)
            .shards(shards)
            .hashSeed(hashSeed);
        if (maxEntryBytes > 0) {
            builder.maxEntryBytes(maxEntryBytes);
        }
        return builder;
    }

    int maxEntryBytes() {
        return maxEntryBytes > 0 ? maxEntryBytes : ShardedHashMap.DEFAULT_MAX_ENTRY_BYTES;
    }

    int memberId() {
        return memberId;
    }

    List<String> hosts() {
        return hosts;
    }

    int portBase() {
        return portBase;
    }

    Path directory() {
        return directory;
    }

    Path aeronDirectory() {
        return aeronDirectory != null ? aeronDirectory : directory.resolve("aeron");
    }

    Supplier<IdleStrategy> idleStrategy() {
        return idleStrategy;
    }

    Duration heartbeatTimeout() {
        return heartbeatTimeout;
    }

    boolean fsync() {
        return fsync;
    }

    int maxInFlight() {
        return maxInFlight;
    }

    Duration operationTimeout() {
        return operationTimeout;
    }

    Duration startTimeout() {
        return startTimeout;
    }

    Duration startRetry() {
        return startRetry;
    }

    Duration dedupRetention() {
        return dedupRetention;
    }

    int logTermLength() {
        return logTermLength;
    }

    ErrorHandler errorHandler() {
        return errorHandler;
    }

    Map<String, ReplicatedFunction<V>> functions() {
        return functions;
    }

    private static int requireRange(String name, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + " must be " + min + ".." + max + ", was " + value);
        }
        return value;
    }

    private static Duration requirePositive(String name, Duration value) {
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(name + " must be positive, was " + value);
        }
        return value;
    }
}
