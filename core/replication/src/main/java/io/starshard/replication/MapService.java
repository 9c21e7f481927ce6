package io.starshard.replication;

import io.aeron.ExclusivePublication;
import io.aeron.Image;
import io.aeron.cluster.codecs.CloseReason;
import io.aeron.cluster.service.ClientSession;
import io.aeron.cluster.service.Cluster;
import io.aeron.cluster.service.ClusteredService;
import io.aeron.logbuffer.Header;
import io.starshard.ShardedHashMap;
import io.starshard.ShardedHashMapBuilder;
import io.starshard.codec.Codec;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.IdleStrategy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The clustered service: applies the committed log, in order, to this member's off-heap map, answers the client that
 * sent each command (only the leader's answer leaves the member), and snapshots and restores the map.
 *
 * <p>Determinism: everything the apply path reads comes from the log (the command's bytes and the cluster's
 * timestamp), the map is built with the same settings and hash seed on every member, and shard-count changes are
 * commands. So every member holds the same entries at the same log position, and a command that fails (an entry
 * too large, an unknown function) fails on every member.
 *
 * <p>Threads: every method runs on the service container's thread, the only writer of the map. Local readers read
 * the map concurrently under its own read protocol; {@link #appliedPosition()} tells them how far it has got.
 */
final class MapService<K, V> implements ClusteredService {
    private final Supplier<ShardedHashMapBuilder<K, V>> mapBuilder;
    private final Codec<K> keyCodec;
    private final Codec<V> valueCodec;
    private final Map<String, ReplicatedFunction<V>> functions;
    private final int windowSize;
    private final long dedupRetentionMillis;
    private final Path scratch;
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    private final CommandFormat.Reader reader = new CommandFormat.Reader();
    private final ExpandableArrayBuffer response = new ExpandableArrayBuffer(256);

    private Cluster cluster;
    private IdleStrategy idle;
    private DedupTable dedup;
    /** Written once by onStart before {@link #started} completes; readers reach it through that future. */
    private volatile ShardedHashMap<K, V> map;
    /** The log position of the last applied message: a volatile store after the map changed publishes the change. */
    private volatile long appliedPosition;
    private volatile Cluster.Role role = Cluster.Role.FOLLOWER;
    private volatile long snapshots;
    private volatile long lastSnapshotNanos;

    MapService(Supplier<ShardedHashMapBuilder<K, V>> mapBuilder, Codec<K> keyCodec, Codec<V> valueCodec,
               Map<String, ReplicatedFunction<V>> functions, int windowSize, long dedupRetentionMillis, Path scratch) {
        this.mapBuilder = mapBuilder;
        this.keyCodec = keyCodec;
        this.valueCodec = valueCodec;
        this.functions = Map.copyOf(functions);
        this.windowSize = windowSize;
        this.dedupRetentionMillis = dedupRetentionMillis;
        this.scratch = scratch;
    }

    /** Completes when the map is ready (empty, or loaded from the snapshot), or fails with why it is not. */
    CompletableFuture<Void> started() {
        return started;
    }

    ShardedHashMap<K, V> map() {
        return map;
    }

    long appliedPosition() {
        return appliedPosition;
    }

    Cluster.Role role() {
        return role;
    }

    long snapshots() {
        return snapshots;
    }

    long lastSnapshotNanos() {
        return lastSnapshotNanos;
    }

    /** The deduplication table (tests compare members'; only safe to read while the service is idle). */
    DedupTable dedup() {
        return dedup;
    }

    @Override
    public void onStart(Cluster cluster, Image snapshotImage) {
        this.cluster = cluster;
        this.idle = cluster.idleStrategy();
        try {
            if (snapshotImage == null) {
                dedup = new DedupTable(windowSize, dedupRetentionMillis);
                map = mapBuilder.get().build();
            } else {
                final ServiceSnapshot.Loaded<K, V> loaded = ServiceSnapshot.read(snapshotImage, mapBuilder.get(),
                    windowSize, scratch, idle);
                dedup = loaded.dedup();
                map = loaded.map();
            }
            started.complete(null);
        } catch (RuntimeException | Error e) {
            started.completeExceptionally(e);
            throw e;
        }
    }

    @Override
    public void onSessionOpen(ClientSession session, long timestamp) {
        // Sessions carry no state here: a client is known by the id in its commands, which survives reconnections.
    }

    @Override
    public void onSessionClose(ClientSession session, long timestamp, CloseReason closeReason) {
        // The client's window stays for the retention: it may reconnect and resend under its own id.
    }

    @Override
    public void onSessionMessage(ClientSession session, long timestamp, DirectBuffer buffer, int offset, int length,
                                 Header header) {
        final long position = header.position();
        if (length < CommandFormat.ARGUMENTS_OFFSET) {
            appliedPosition = position; // not a command of ours: nothing to apply or answer
            return;
        }
        final byte type = buffer.getByte(offset + CommandFormat.TYPE_OFFSET);
        final long clientId = buffer.getLong(offset + CommandFormat.CLIENT_ID_OFFSET);
        final long correlationId = buffer.getLong(offset + CommandFormat.CORRELATION_ID_OFFSET);
        final DedupTable.Window window = dedup.window(clientId, timestamp);
        final int responseLength;
        if (dedup.isApplied(window, correlationId)) {
            responseLength = dedup.storedResponse(window, correlationId, response);
        } else if (dedup.isExpired(window, correlationId)) {
            responseLength = status(correlationId, position, CommandFormat.STATUS_EXPIRED, null);
        } else {
            responseLength = apply(type, correlationId, position, buffer, offset, length);
            dedup.record(window, correlationId, response, responseLength);
        }
        appliedPosition = position;
        answer(session, responseLength);
    }

    /**
     * Applies one command to the map and writes its response. A command that throws leaves the map as the map's
     * own method leaves it: unchanged, except a batch, which stops at the failing entry (the same prefix on every
     * member, since every member fails at the same entry).
     */
    private int apply(byte type, long correlationId, long position, DirectBuffer buffer, int offset, int length) {
        final CommandFormat.Reader in = reader.wrap(buffer, offset, length);
        final ShardedHashMap<K, V> m = map;
        try {
            switch (type) {
                case CommandFormat.TYPE_PUT:
                    return value(correlationId, position, m.put(key(in), value(in)));
                case CommandFormat.TYPE_PUT_IF_ABSENT:
                    return value(correlationId, position, m.putIfAbsent(key(in), value(in)));
                case CommandFormat.TYPE_REMOVE:
                    return value(correlationId, position, m.remove(key(in)));
                case CommandFormat.TYPE_REMOVE_IF_EQUALS:
                    return bool(correlationId, position, m.remove(key(in), value(in)));
                case CommandFormat.TYPE_REPLACE:
                    return value(correlationId, position, m.replace(key(in), value(in)));
                case CommandFormat.TYPE_REPLACE_IF_EQUALS: {
                    final K key = key(in);
                    final V expected = value(in);
                    return bool(correlationId, position, m.replace(key, expected, value(in)));
                }
                case CommandFormat.TYPE_PUT_ALL: {
                    final int count = in.readInt();
                    final Map<K, V> batch = new LinkedHashMap<>(Math.max(16, Math.min(count, 1 << 16) * 2));
                    for (int i = 0; i < count; i++) {
                        batch.put(key(in), value(in));
                    }
                    m.putAll(batch);
                    return value(correlationId, position, null);
                }
                case CommandFormat.TYPE_CLEAR:
                    m.clear();
                    return value(correlationId, position, null);
                case CommandFormat.TYPE_APPLY: {
                    in.readBlob();
                    final String name = buffer.getStringWithoutLengthUtf8(in.offset(), in.length());
                    final ReplicatedFunction<V> function = functions.get(name);
                    if (function == null) {
                        throw new IllegalArgumentException("no function named '" + name + "' is registered on this"
                            + " member; register it on every member with ReplicatedMapBuilder.function");
                    }
                    final K key = key(in);
                    final V argument = value(in);
                    return value(correlationId, position, m.compute(key, (k, current) -> function.apply(current,
                        argument)));
                }
                case CommandFormat.TYPE_GET:
                    return value(correlationId, position, m.get(key(in)));
                case CommandFormat.TYPE_REBALANCE:
                    m.rebalanceTo(in.readInt());
                    return value(correlationId, position, null);
                case CommandFormat.TYPE_SYNC:
                    return value(correlationId, position, null);
                default:
                    throw new IllegalArgumentException("unknown command type " + type);
            }
        } catch (RuntimeException e) {
            return status(correlationId, position, CommandFormat.STATUS_FAILED,
                (e.getClass().getName() + "\n" + e.getMessage()).getBytes(StandardCharsets.UTF_8));
        }
    }

    private K key(CommandFormat.Reader in) {
        in.readBlob();
        return keyCodec.decode(in.bufferOf(), in.offset(), in.length());
    }

    private V value(CommandFormat.Reader in) {
        in.readBlob();
        return valueCodec.decode(in.bufferOf(), in.offset(), in.length());
    }

    private int value(long correlationId, long position, V value) {
        if (value == null) {
            CommandFormat.putResponseHeader(response, correlationId, position, CommandFormat.STATUS_OK,
                CommandFormat.NO_VALUE);
            return CommandFormat.RESPONSE_RESULT_OFFSET;
        }
        final int length = valueCodec.encode(value, response, CommandFormat.RESPONSE_RESULT_OFFSET, Integer.MAX_VALUE
            - CommandFormat.RESPONSE_RESULT_OFFSET);
        CommandFormat.putResponseHeader(response, correlationId, position, CommandFormat.STATUS_OK, length);
        return CommandFormat.RESPONSE_RESULT_OFFSET + length;
    }

    private int bool(long correlationId, long position, boolean value) {
        CommandFormat.putResponseHeader(response, correlationId, position, CommandFormat.STATUS_OK, 1);
        response.putByte(CommandFormat.RESPONSE_RESULT_OFFSET, (byte) (value ? 1 : 0));
        return CommandFormat.RESPONSE_RESULT_OFFSET + 1;
    }

    private int status(long correlationId, long position, byte status, byte[] result) {
        final int length = result == null ? CommandFormat.NO_VALUE : result.length;
        CommandFormat.putResponseHeader(response, correlationId, position, status, length);
        if (result != null) {
            response.putBytes(CommandFormat.RESPONSE_RESULT_OFFSET, result);
        }
        return CommandFormat.RESPONSE_RESULT_OFFSET + Math.max(0, length);
    }

    /**
     * Sends the response to the command's client. Only the leader's session publishes (followers' offers are
     * no-ops); if the client cannot take it now, it is dropped after a bounded wait: the client resends, and the
     * deduplication table answers again without applying twice.
     */
    private void answer(ClientSession session, int length) {
        for (int attempt = 0; attempt < 3; attempt++) {
            if (session.offer(response, 0, length) >= 0) {
                return;
            }
            idle.idle();
        }
    }

    @Override
    public void onTimerEvent(long correlationId, long timestamp) {
        // no timers: expiry of the deduplication table runs on the log's own timestamps
    }

    @Override
    public void onTakeSnapshot(ExclusivePublication snapshotPublication) {
        final long start = System.nanoTime();
        ServiceSnapshot.write(snapshotPublication, map, dedup, scratch, idle);
        lastSnapshotNanos = System.nanoTime() - start;
        snapshots++;
    }

    @Override
    public void onRoleChange(Cluster.Role newRole) {
        role = newRole;
    }

    @Override
    public void onTerminate(Cluster cluster) {
        // the node closes the map after the container has stopped calling this service
    }
}
