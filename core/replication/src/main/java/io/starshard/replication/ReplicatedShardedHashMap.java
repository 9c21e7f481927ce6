package io.starshard.replication;

import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.client.AeronCluster;
import io.starshard.ShardedHashMap;
import io.starshard.codec.Codec;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * A {@link ConcurrentMap} replicated on an Aeron Cluster: every member holds the whole map off-heap and serves reads
 * locally; every write is a command in the cluster's Raft log, applied in log order by every member.
 *
 * <p>Guarantees:
 * <ul>
 *   <li>A write returns (its future completes) once the cluster has committed it, the leader has applied it, and
 *       this member has applied it too: the writer's next local read sees it. A write acknowledged by the cluster
 *       survives the loss of a minority of members.</li>
 *   <li>Exactly once: a command resent after a failover or a silence is recognised by its client id and correlation
 *       id and answered from the members' record, not applied again.</li>
 *   <li>Local reads never go backwards in this member's lifetime and are never torn (the map's read protocol); they
 *       may be behind the leader. {@link #sync()} or {@link #awaitApplied} give read-your-writes across members;
 *       {@link #getLinearizable} reads through the log.</li>
 *   <li>{@code compute}, {@code merge} and their kin are the {@link ConcurrentMap} defaults: a local read, then a
 *       conditional replicated write, retried if another write came first. For counters and other hot updates,
 *       {@link #apply} runs a registered deterministic function on every member in one command.</li>
 *   <li>A timed-out write throws {@link ReplicationException}; its outcome is then unknown (it is still resent and
 *       applies at most once).</li>
 * </ul>
 *
 * <p>Views ({@link #entrySet()}, {@link #keySet()}, {@link #values()}) are read-only and local; writes go through
 * the map's methods.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class ReplicatedShardedHashMap<K, V> extends AbstractMap<K, V> implements ConcurrentMap<K, V>,
    AutoCloseable {

    private static final SecureRandom CLIENT_IDS = new SecureRandom();

    private final Codec<K> keyCodec;
    private final Codec<V> valueCodec;
    private final MapService<K, V> service;
    private final ClusterNode node;
    private final ClusterClient client;
    private final int maxEncodedBytes;
    private final int maxCommandBytes;
    private final long timeoutNanos;
    private final int memberId;
    private final ThreadLocal<CommandEncoder> encoders = ThreadLocal.withInitial(CommandEncoder::new);
    private volatile boolean closed;

    /**
     * A builder of a replicated map's member.
     *
     * @param keyType   the key class
     * @param valueType the value class
     * @param <K>       the key type
     * @param <V>       the value type
     * @return a builder with the defaults of {@link ReplicatedMapBuilder}
     */
    public static <K, V> ReplicatedMapBuilder<K, V> builder(Class<? super K> keyType, Class<? super V> valueType) {
        return new ReplicatedMapBuilder<>(keyType, valueType);
    }

    ReplicatedShardedHashMap(ReplicatedMapBuilder<K, V> settings) {
        this.keyCodec = settings.resolvedKeyCodec();
        this.valueCodec = settings.resolvedValueCodec();
        this.memberId = settings.memberId();
        this.maxEncodedBytes = settings.maxEntryBytes();
        // Aeron's largest message: an eighth of the term, at most 16 MiB; the ingress uses the log's term length.
        this.maxCommandBytes = Math.min(settings.logTermLength() / 8, 16 * 1024 * 1024)
            - AeronCluster.SESSION_HEADER_LENGTH;
        this.timeoutNanos = settings.operationTimeout().toNanos();
        this.service = new MapService<>(() -> settings.mapBuilder(keyCodec, valueCodec), keyCodec, valueCodec,
            settings.functions(), settings.maxInFlight(), settings.dedupRetention().toMillis(),
            settings.directory().resolve("scratch"));
        final ErrorHandler errors = settings.errorHandler() != null ? settings.errorHandler()
            : e -> System.err.println("starshard member " + memberId + ": " + e);
        ClusterNode launched = null;
        try {
            launched = ClusterNode.launch(settings, service, errors);
            service.started().get(settings.startTimeout().toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            org.agrona.CloseHelper.quietClose(launched);
            closeLocalMap();
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new ReplicationException("member " + memberId + " did not start", e.getCause());
        } catch (TimeoutException | InterruptedException | RuntimeException e) {
            org.agrona.CloseHelper.quietClose(launched);
            closeLocalMap();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new ReplicationException("member " + memberId + " did not start within "
                + settings.startTimeout(), e);
        }
        this.node = launched;
        try {
            this.client = new ClusterClient(settings.aeronDirectory().toString(),
                ClusterNode.ingressEndpoints(settings.hosts(), settings.portBase()), settings.hosts().get(memberId),
                () -> CLIENT_IDS.nextLong() & Long.MAX_VALUE, settings.maxInFlight(), settings.logTermLength(),
                Math.max(TimeUnit.SECONDS.toNanos(1), settings.heartbeatTimeout().toNanos()),
                settings.idleStrategy().get(), service::appliedPosition, "starshard-replication-client-" + memberId);
        } catch (RuntimeException | Error e) {
            org.agrona.CloseHelper.quietClose(launched);
            closeLocalMap();
            throw e;
        }
        try {
            // Ready for reads: the local map has caught up with everything committed before the start.
            final CompletableFuture<ClusterClient.Response> caughtUp = submit(encoder(CommandFormat.TYPE_SYNC));
            caughtUp.get(settings.startTimeout().toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            close();
            throw new ReplicationException("member " + memberId + " started but did not reach the cluster's leader"
                + " within " + settings.startTimeout() + " (start the other members too: a leader needs a majority)",
                e);
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new ReplicationException("interrupted while member " + memberId + " caught up", e);
        } catch (ExecutionException | RuntimeException e) {
            close();
            throw new ReplicationException("member " + memberId + " could not catch up with the cluster", e);
        }
    }

    // ---------------------------------------------------------------- local reads

    /** The local map; throws once closed (the map's own check). */
    private ShardedHashMap<K, V> local() {
        return service.map();
    }

    @Override
    public V get(Object key) {
        return local().get(key);
    }

    @Override
    public boolean containsKey(Object key) {
        return local().containsKey(key);
    }

    @Override
    public boolean containsValue(Object value) {
        return local().containsValue(value);
    }

    @Override
    public int size() {
        return local().size();
    }

    @Override
    public boolean isEmpty() {
        return local().isEmpty();
    }

    /**
     * The local entry count as a long.
     *
     * @return the count
     */
    public long mappingCount() {
        return local().mappingCount();
    }

    /** Read-only: its entries are copies, so neither the set nor an entry's {@code setValue} can bypass the log. */
    @Override
    public Set<Map.Entry<K, V>> entrySet() {
        final Set<Map.Entry<K, V>> live = local().entrySet();
        return new java.util.AbstractSet<>() {
            @Override
            public java.util.Iterator<Map.Entry<K, V>> iterator() {
                final java.util.Iterator<Map.Entry<K, V>> entries = live.iterator();
                return new java.util.Iterator<>() {
                    @Override
                    public boolean hasNext() {
                        return entries.hasNext();
                    }

                    @Override
                    public Map.Entry<K, V> next() {
                        final Map.Entry<K, V> e = entries.next();
                        return new AbstractMap.SimpleImmutableEntry<>(e.getKey(), e.getValue());
                    }
                };
            }

            @Override
            public int size() {
                return live.size();
            }

            @Override
            public boolean contains(Object o) {
                return live.contains(o);
            }
        };
    }

    @Override
    public Set<K> keySet() {
        return Collections.unmodifiableSet(local().keySet());
    }

    @Override
    public Collection<V> values() {
        return Collections.unmodifiableCollection(local().values());
    }

    /**
     * Reads {@code key} through the log: the answer reflects every write committed before this call.
     *
     * @param key the key
     * @return its value, or null
     */
    public V getLinearizable(K key) {
        return value(call(encoder(CommandFormat.TYPE_GET).blob(keyCodec, requireKey(key), maxEncodedBytes)));
    }

    /**
     * Waits until this member has applied everything the cluster committed before this call: local reads afterwards
     * see every write acknowledged to anyone before it.
     *
     * @return the log position reached
     */
    public long sync() {
        return call(encoder(CommandFormat.TYPE_SYNC)).position();
    }

    /**
     * Waits until this member has applied the log up to {@code position} (from {@link #sync()} or another member's
     * {@link #appliedPosition()}).
     *
     * @param position a log position
     * @param timeout  how long to wait
     * @return whether the position was reached in time
     */
    public boolean awaitApplied(long position, Duration timeout) {
        final long deadline = System.nanoTime() + timeout.toNanos();
        int spins = 0;
        while (service.appliedPosition() < position) {
            if (closed) {
                throw new IllegalStateException("the replicated map is closed");
            }
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            if (++spins < 100) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
        return true;
    }

    /**
     * The log position this member has applied.
     *
     * @return a log position
     */
    public long appliedPosition() {
        return service.appliedPosition();
    }

    /**
     * This member's id.
     *
     * @return the id given to the builder
     */
    public int memberId() {
        return memberId;
    }

    /**
     * Whether this member is the cluster's leader now (leadership moves on failures).
     *
     * @return true on the leader
     */
    public boolean isLeader() {
        return service.role() == Cluster.Role.LEADER;
    }

    /**
     * Whether this member's client has a session with the cluster's leader.
     *
     * @return true while connected
     */
    public boolean isConnected() {
        return client.isConnected();
    }

    // ---------------------------------------------------------------- replicated writes

    @Override
    public V put(K key, V value) {
        return value(call(keyValue(CommandFormat.TYPE_PUT, key, value)));
    }

    /**
     * {@link #put} without waiting: the future completes when the write is committed and applied here.
     *
     * @param key   the key
     * @param value the value
     * @return the previous value, when done
     */
    public CompletableFuture<V> putAsync(K key, V value) {
        return submit(keyValue(CommandFormat.TYPE_PUT, key, value)).thenApply(this::value);
    }

    @Override
    public V putIfAbsent(K key, V value) {
        return value(call(keyValue(CommandFormat.TYPE_PUT_IF_ABSENT, key, value)));
    }

    @Override
    @SuppressWarnings("unchecked")
    public V remove(Object key) {
        return value(call(encoder(CommandFormat.TYPE_REMOVE).blob(keyCodec, requireKey((K) key), maxEncodedBytes)));
    }

    /**
     * {@link #remove(Object)} without waiting.
     *
     * @param key the key
     * @return the removed value, when done
     */
    public CompletableFuture<V> removeAsync(K key) {
        return submit(encoder(CommandFormat.TYPE_REMOVE).blob(keyCodec, requireKey(key), maxEncodedBytes))
            .thenApply(this::value);
    }

    @Override
    @SuppressWarnings("unchecked")
    public boolean remove(Object key, Object value) {
        if (key == null || value == null) {
            return false;
        }
        if (!keyCodec.type().isInstance(key) || !valueCodec.type().isInstance(value)) {
            return false;
        }
        return bool(call(keyValue(CommandFormat.TYPE_REMOVE_IF_EQUALS, (K) key, (V) value)));
    }

    @Override
    public V replace(K key, V value) {
        return value(call(keyValue(CommandFormat.TYPE_REPLACE, key, value)));
    }

    @Override
    public boolean replace(K key, V oldValue, V newValue) {
        Objects.requireNonNull(oldValue, "oldValue");
        final CommandEncoder encoder = keyValue(CommandFormat.TYPE_REPLACE_IF_EQUALS, key, oldValue);
        return bool(call(encoder.blob(valueCodec, Objects.requireNonNull(newValue, "newValue"), maxEncodedBytes)));
    }

    /**
     * Runs the registered function {@code function} on {@code key}'s entry on every member, in one command.
     *
     * @param function the name it was registered under
     * @param key      the key
     * @param argument its argument
     * @return the entry's new value, or null if the function removed it
     * @throws CommandFailedException if no such function is registered, or it threw
     */
    public V apply(String function, K key, V argument) {
        return value(call(applyCommand(function, key, argument)));
    }

    /**
     * {@link #apply} without waiting.
     *
     * @param function the name it was registered under
     * @param key      the key
     * @param argument its argument
     * @return the entry's new value, when done
     */
    public CompletableFuture<V> applyAsync(String function, K key, V argument) {
        return submit(applyCommand(function, key, argument)).thenApply(this::value);
    }

    private CommandEncoder applyCommand(String function, K key, V argument) {
        return encoder(CommandFormat.TYPE_APPLY).string(Objects.requireNonNull(function, "function"))
            .blob(keyCodec, requireKey(key), maxEncodedBytes)
            .blob(valueCodec, Objects.requireNonNull(argument, "argument"), maxEncodedBytes);
    }

    /**
     * Writes every entry: as few commands as fit the log's message size, each applied atomically, sent without
     * waiting for one another; returns when all are applied.
     */
    @Override
    public void putAll(Map<? extends K, ? extends V> entries) {
        join(putAllAsync(entries));
    }

    /**
     * {@link #putAll} without waiting.
     *
     * @param entries the entries
     * @return completes when every entry is applied
     */
    public CompletableFuture<Void> putAllAsync(Map<? extends K, ? extends V> entries) {
        final List<CompletableFuture<ClusterClient.Response>> sent = new ArrayList<>();
        CommandEncoder encoder = null;
        int count = 0;
        for (Map.Entry<? extends K, ? extends V> entry : entries.entrySet()) {
            final K key = requireKey(entry.getKey());
            final V value = Objects.requireNonNull(entry.getValue(), "entries contains a null value");
            if (encoder == null) {
                encoder = encoder(CommandFormat.TYPE_PUT_ALL).putInt(0);
                count = 0;
            }
            final int before = encoder.length();
            encoder.blob(keyCodec, key, maxEncodedBytes).blob(valueCodec, value, maxEncodedBytes);
            if (encoder.length() > maxCommandBytes && count > 0) {
                encoder.truncate(before);
                encoder.putIntAt(CommandFormat.ARGUMENTS_OFFSET, count);
                sent.add(submit(encoder));
                encoder = encoder(CommandFormat.TYPE_PUT_ALL).putInt(0);
                encoder.blob(keyCodec, key, maxEncodedBytes).blob(valueCodec, value, maxEncodedBytes);
                count = 0;
            }
            count++;
        }
        if (encoder != null) {
            encoder.putIntAt(CommandFormat.ARGUMENTS_OFFSET, count);
            sent.add(submit(encoder));
        }
        return CompletableFuture.allOf(sent.stream().map(f -> f.thenApply(this::value))
            .toArray(CompletableFuture[]::new));
    }

    /** Removes every entry, on every member, in one command. */
    @Override
    public void clear() {
        call(encoder(CommandFormat.TYPE_CLEAR));
    }

    /**
     * Changes every member's shard count, at the same log position (a stop-the-world rebalance on each).
     *
     * @param shards the new count
     * @throws CommandFailedException if the count is out of the map's range
     */
    public void rebalanceTo(int shards) {
        call(encoder(CommandFormat.TYPE_REBALANCE).putInt(shards));
    }

    /**
     * The local map's shard count.
     *
     * @return the count
     */
    public int shardCount() {
        return local().shardCount();
    }

    /**
     * Asks the cluster to snapshot now (every member writes its map, hash seed and deduplication table at the same
     * log position, so that a restart replays only the log after it) and waits until this member has written its
     * own. While the leader snapshots, it takes no new commands: see the replication guide for the pause.
     */
    public void takeSnapshot() {
        final long before = service.snapshots();
        join(client.requestSnapshot());
        final long deadline = System.nanoTime() + timeoutNanos;
        while (service.snapshots() == before) {
            if (closed) {
                throw new IllegalStateException("the replicated map is closed");
            }
            if (System.nanoTime() - deadline > 0) {
                throw new ReplicationException("member " + memberId + " did not snapshot within the timeout", null);
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    /**
     * How long this member's last snapshot took to write (its service applied nothing meanwhile).
     *
     * @return the duration, zero before the first
     */
    public Duration lastSnapshotDuration() {
        return Duration.ofNanos(service.lastSnapshotNanos());
    }

    // ---------------------------------------------------------------- plumbing

    private CommandEncoder encoder(byte type) {
        if (closed) {
            throw new IllegalStateException("the replicated map is closed");
        }
        return encoders.get().begin(type, 0L); // the client fills in its id when it numbers the command
    }

    private CommandEncoder keyValue(byte type, K key, V value) {
        return encoder(type).blob(keyCodec, requireKey(key), maxEncodedBytes)
            .blob(valueCodec, Objects.requireNonNull(value, "value"), maxEncodedBytes);
    }

    private static <T> T requireKey(T key) {
        return Objects.requireNonNull(key, "key");
    }

    private CompletableFuture<ClusterClient.Response> submit(CommandEncoder encoder) {
        final int length = encoder.length();
        if (length > maxCommandBytes) {
            throw new IllegalArgumentException("the command takes " + length + " bytes; the cluster's log takes"
                + " messages of at most " + maxCommandBytes + " bytes (logTermLength / 8)");
        }
        return client.submit(encoder.toBytes(), length);
    }

    private ClusterClient.Response call(CommandEncoder encoder) {
        final ClusterClient.Response response = join(submit(encoder));
        check(response);
        return response;
    }

    private <T> T join(CompletableFuture<T> future) {
        try {
            return future.get(timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new ReplicationException("the cluster did not answer within " + Duration.ofNanos(timeoutNanos)
                + "; the command's outcome is unknown (it is resent until answered and applies at most once)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ReplicationException("interrupted while waiting for the cluster; the command's outcome is"
                + " unknown", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new ReplicationException("the command failed", e.getCause());
        }
    }

    private static void check(ClusterClient.Response response) {
        if (response.status() == CommandFormat.STATUS_OK) {
            return;
        }
        if (response.status() == CommandFormat.STATUS_FAILED) {
            final String text = response.result() == null ? "?\n?" : new String(response.result(),
                StandardCharsets.UTF_8);
            final int newline = text.indexOf('\n');
            throw new CommandFailedException(newline < 0 ? text : text.substring(0, newline),
                newline < 0 ? "" : text.substring(newline + 1));
        }
        throw new ReplicationException("the command was resent after the members had forgotten it (the client was"
            + " silent longer than dedupRetention); whether it was applied is unknown", null);
    }

    private V value(ClusterClient.Response response) {
        check(response);
        final byte[] result = response.result();
        return result == null ? null : valueCodec.decode(new UnsafeBuffer(result), 0, result.length);
    }

    private static boolean bool(ClusterClient.Response response) {
        return response.result() != null && response.result().length == 1 && response.result()[0] == 1;
    }

    /**
     * Leaves the cluster: stops this member's client (unanswered commands fail with {@link ReplicationException};
     * they may still be applied), its service and Aeron processes, and frees the local map. The other members carry
     * on (a majority must remain for writes). Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        org.agrona.CloseHelper.quietClose(client);
        org.agrona.CloseHelper.quietClose(node);
        closeLocalMap();
    }

    private void closeLocalMap() {
        final ShardedHashMap<K, V> map = service.map();
        if (map != null) {
            map.close();
        }
    }
}
