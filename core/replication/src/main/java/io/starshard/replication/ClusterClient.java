package io.starshard.replication;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.cluster.client.AeronCluster;
import io.aeron.cluster.client.EgressListener;
import io.aeron.logbuffer.Header;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The map's connection to the cluster: one thread owns the {@link AeronCluster} session (which is not thread-safe),
 * sends the commands callers queue, resends what is unanswered after a new leader or a silence, reconnects when the
 * session is lost, and completes each command's future with its response once the local member has applied the
 * command (so that every write is visible to the writer's next local read).
 *
 * <p>Exactly once: the thread numbers commands itself, in the order it sends them, and keeps at most
 * {@code maxInFlight} unanswered. Responses come back in log order, so the unanswered commands are always the last
 * {@code maxInFlight} numbers, which is what the members' deduplication table remembers. A resent command that was
 * already applied is answered from that table, not applied again.
 */
final class ClusterClient implements EgressListener, AutoCloseable {
    /** A command waiting to be sent, sent and waiting for its response, or answered and waiting for the local apply. */
    static final class Request {
        final byte[] bytes;
        final int length;
        final CompletableFuture<Response> future = new CompletableFuture<>();
        long correlationId;
        long sentAtNanos;
        Response response;

        Request(byte[] bytes, int length) {
            this.bytes = bytes;
            this.length = length;
        }
    }

    /** What the cluster answered. */
    record Response(byte status, long position, byte[] result) {
    }

    private final AeronCluster.Context template;
    /** Fresh when the members answer that they forgot this client (its numbering starts again at 1). */
    private long clientId;
    private final java.util.function.LongSupplier clientIds;
    private boolean renumber;
    private final int maxInFlight;
    private final long resendAfterNanos;
    private final IdleStrategy idle;
    private final LongSupplier localApplied;
    /** Callers offer, the client thread polls; a closing caller may drain it too, so it is multi-consumer safe. */
    private final java.util.concurrent.ConcurrentLinkedQueue<Request> queue =
        new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** Unanswered commands by correlation id modulo maxInFlight: they are always consecutive ids. */
    private final Request[] inFlight;
    /** Answered, waiting until the local member has applied their position (in answer order). */
    private final java.util.ArrayDeque<Request> applying = new java.util.ArrayDeque<>();
    /** Wraps a command's bytes to number or send them (client thread only). */
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(new byte[0]);
    private final Thread thread;
    private final Aeron aeron;

    /** A snapshot a caller asked for; the client thread sends the admin request and completes it on the answer. */
    private final java.util.concurrent.atomic.AtomicReference<CompletableFuture<Void>> snapshotRequest =
        new java.util.concurrent.atomic.AtomicReference<>();
    private CompletableFuture<Void> snapshotSent;
    private long snapshotCorrelationId;

    private volatile boolean running = true;
    private volatile boolean connected;
    private AeronCluster cluster;
    private AeronCluster.AsyncConnect connecting;
    private long nextConnectNanos;
    /** Lowest unanswered id; nextToSend is the lowest not yet sent (to this leader); lastAssigned the highest id. */
    private long oldest = 1;
    private long nextToSend = 1;
    private long lastAssigned;
    private long lastSendNanos;

    ClusterClient(String aeronDirectory, String ingressEndpoints, String egressHost,
                  java.util.function.LongSupplier clientIds, int maxInFlight, int ingressTermLength,
                  long resendAfterNanos, IdleStrategy idle, LongSupplier localApplied, String name) {
        this.clientIds = clientIds;
        this.clientId = clientIds.getAsLong();
        this.maxInFlight = maxInFlight;
        this.resendAfterNanos = resendAfterNanos;
        this.idle = idle;
        this.localApplied = localApplied;
        this.inFlight = new Request[maxInFlight];
        this.aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDirectory));
        this.template = new AeronCluster.Context()
            .aeron(aeron)
            .ownsAeronClient(false)
            .egressListener(this)
            .egressChannel("aeron:udp?endpoint=" + egressHost + ":0")
            .ingressChannel("aeron:udp?term-length=" + ingressTermLength)
            .ingressEndpoints(ingressEndpoints)
            .messageTimeoutNs(resendAfterNanos);
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    boolean isConnected() {
        return connected;
    }

    /**
     * Queues a command (its client and correlation ids are filled in when it is numbered). The future completes with the response
     * after the local member applied it, or exceptionally if the client closes first.
     */
    CompletableFuture<Response> submit(byte[] bytes, int length) {
        final Request request = new Request(bytes, length);
        if (!running) {
            request.future.completeExceptionally(closed());
            return request.future;
        }
        queue.offer(request);
        if (!running) {
            failQueued(); // the client thread may have drained the queue before this request arrived
        }
        return request.future;
    }

    private void run() {
        while (running) {
            int work = 0;
            try {
                work += cluster == null ? connect() : exchange();
                work += completeApplied();
            } catch (RuntimeException e) {
                // A failed session (closed by the cluster, timed out): drop it and reconnect; nothing is lost,
                // every unanswered command is resent on the next session.
                disconnect();
                work++;
            }
            idle.idle(work);
        }
        disconnect();
        failAll();
    }

    private int connect() {
        final long now = System.nanoTime();
        if (connecting == null) {
            if (now < nextConnectNanos) {
                return 0;
            }
            connecting = AeronCluster.asyncConnect(template.clone());
        }
        try {
            final AeronCluster c = connecting.poll();
            if (c == null) {
                return 0;
            }
            connecting = null;
            cluster = c;
            connected = true;
            nextToSend = oldest; // a new session: resend everything unanswered
            lastSendNanos = now;
            return 1;
        } catch (RuntimeException e) {
            CloseHelper.quietClose(connecting);
            connecting = null;
            nextConnectNanos = now + TimeUnit.MILLISECONDS.toNanos(100);
            return 0;
        }
    }

    private int exchange() {
        int work = cluster.pollEgress();
        if (cluster.isClosed()) {
            disconnect();
            return work + 1;
        }
        if (renumber) {
            renumber();
        }
        final long now = System.nanoTime();
        final Request first = inFlight[slot(oldest)];
        if (oldest < nextToSend && first != null && now - first.sentAtNanos > resendAfterNanos) {
            nextToSend = oldest; // silence: resend from the oldest unanswered (duplicates are answered, not applied)
        }
        work += send(now);
        while (lastAssigned - oldest + 1 < maxInFlight) {
            final Request request = queue.poll();
            if (request == null) {
                break;
            }
            request.correlationId = ++lastAssigned;
            sendBuffer.wrap(request.bytes, 0, request.length);
            sendBuffer.putLong(CommandFormat.CLIENT_ID_OFFSET, clientId);
            sendBuffer.putLong(CommandFormat.CORRELATION_ID_OFFSET, request.correlationId);
            inFlight[slot(request.correlationId)] = request;
            work++;
        }
        work += send(now);
        work += sendSnapshotRequest();
        if (now - lastSendNanos > TimeUnit.SECONDS.toNanos(1) && cluster.sendKeepAlive()) {
            lastSendNanos = now;
        }
        return work;
    }

    /** Sends, in id order, every command from nextToSend on; stops at the first the publication refuses. */
    private int send(long now) {
        int sent = 0;
        while (nextToSend <= lastAssigned) {
            final Request request = inFlight[slot(nextToSend)];
            if (request == null || request.correlationId != nextToSend) {
                nextToSend++; // answered meanwhile
                continue;
            }
            sendBuffer.wrap(request.bytes, 0, request.length);
            final long result;
            try {
                result = cluster.offer(sendBuffer, 0, request.length);
            } catch (IllegalArgumentException e) {
                // Longer than the publication takes: it can never be sent; it fails alone, unsent and unapplied.
                request.future.completeExceptionally(new IllegalArgumentException("the command of " + request.length
                    + " bytes cannot be sent: " + e.getMessage(), e));
                answered(request);
                continue;
            }
            if (result < 0) {
                if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED) {
                    disconnect();
                }
                return sent;
            }
            request.sentAtNanos = now;
            lastSendNanos = now;
            nextToSend++;
            sent++;
        }
        return sent;
    }

    @Override
    public void onMessage(long clusterSessionId, long timestamp, DirectBuffer buffer, int offset, int length,
                          Header header) {
        if (length < CommandFormat.RESPONSE_RESULT_OFFSET) {
            return;
        }
        final long correlationId = buffer.getLong(offset + CommandFormat.RESPONSE_CORRELATION_OFFSET);
        if (correlationId < oldest || correlationId > lastAssigned) {
            return; // a second answer to a resent command
        }
        final int slot = slot(correlationId);
        final Request request = inFlight[slot];
        if (request == null || request.correlationId != correlationId) {
            return;
        }
        final int resultLength = buffer.getInt(offset + CommandFormat.RESPONSE_LENGTH_OFFSET);
        if (resultLength > length - CommandFormat.RESPONSE_RESULT_OFFSET) {
            return; // cannot be ours; the command will be resent
        }
        byte[] result = null;
        if (resultLength >= 0) {
            result = new byte[resultLength];
            buffer.getBytes(offset + CommandFormat.RESPONSE_RESULT_OFFSET, result);
        }
        final byte status = buffer.getByte(offset + CommandFormat.RESPONSE_STATUS_OFFSET);
        request.response = new Response(status, buffer.getLong(offset + CommandFormat.RESPONSE_POSITION_OFFSET),
            result);
        answered(request);
        applying.addLast(request);
        renumber |= status == CommandFormat.STATUS_EXPIRED;
    }

    /** Takes an answered (or unsendable) command out of the window. */
    private void answered(Request request) {
        inFlight[slot(request.correlationId)] = null;
        while (oldest <= lastAssigned && inFlight[slot(oldest)] == null) {
            oldest++;
        }
        if (nextToSend < oldest) {
            nextToSend = oldest;
        }
    }

    /**
     * The members forgot this client (silent for longer than their retention): the commands still unanswered may or
     * may not have been applied before, so they fail with an unknown outcome, and the client starts again under a
     * new id, whose commands the members will recognise.
     */
    private void renumber() {
        renumber = false;
        final ReplicationException unknown = new ReplicationException("the members no longer remember this client's"
            + " commands (it was silent for longer than dedupRetention); whether this one was applied is unknown",
            null);
        for (int i = 0; i < inFlight.length; i++) {
            if (inFlight[i] != null) {
                inFlight[i].future.completeExceptionally(unknown);
                inFlight[i] = null;
            }
        }
        clientId = clientIds.getAsLong();
        oldest = 1;
        nextToSend = 1;
        lastAssigned = 0;
    }

    /** Asks the cluster to take a snapshot; completes when the leader accepted the request. */
    CompletableFuture<Void> requestSnapshot() {
        final CompletableFuture<Void> request = new CompletableFuture<>();
        if (!snapshotRequest.compareAndSet(null, request)) {
            return snapshotRequest.get();
        }
        if (!running) {
            request.completeExceptionally(closed());
        }
        return request;
    }

    private int sendSnapshotRequest() {
        final CompletableFuture<Void> request = snapshotRequest.get();
        if (request == null || request == snapshotSent) {
            return 0;
        }
        if (cluster.sendAdminRequestToTakeASnapshot(++snapshotCorrelationId)) {
            snapshotSent = request;
            return 1;
        }
        return 0;
    }

    @Override
    public void onAdminResponse(long clusterSessionId, long correlationId,
                                io.aeron.cluster.codecs.AdminRequestType requestType,
                                io.aeron.cluster.codecs.AdminResponseCode responseCode, String message,
                                DirectBuffer payload, int payloadOffset, int payloadLength) {
        final CompletableFuture<Void> request = snapshotSent;
        if (request == null || correlationId != snapshotCorrelationId) {
            return;
        }
        snapshotSent = null;
        snapshotRequest.compareAndSet(request, null);
        if (responseCode == io.aeron.cluster.codecs.AdminResponseCode.OK) {
            request.complete(null);
        } else {
            request.completeExceptionally(new ReplicationException("the cluster refused a snapshot: " + responseCode
                + " " + message, null));
        }
    }

    @Override
    public void onNewLeader(long clusterSessionId, long leadershipTermId, int leaderMemberId,
                            String ingressEndpoints) {
        nextToSend = oldest; // what the old leader had not committed is resent to the new one
    }

    private int completeApplied() {
        int completed = 0;
        final long applied = localApplied.getAsLong();
        Request request;
        while ((request = applying.peekFirst()) != null && request.response.position() <= applied) {
            applying.pollFirst();
            request.future.complete(request.response);
            completed++;
        }
        return completed;
    }

    private int slot(long correlationId) {
        return (int) (correlationId % maxInFlight);
    }

    private void disconnect() {
        connected = false;
        CloseHelper.quietClose(connecting);
        connecting = null;
        CloseHelper.quietClose(cluster);
        cluster = null;
        nextToSend = oldest;
        snapshotSent = null; // asked again on the next session
    }

    private void failAll() {
        final ReplicationException closed = closed();
        for (int i = 0; i < inFlight.length; i++) {
            if (inFlight[i] != null) {
                inFlight[i].future.completeExceptionally(closed);
                inFlight[i] = null;
            }
        }
        Request request;
        while ((request = applying.pollFirst()) != null) {
            request.future.completeExceptionally(closed);
        }
        failQueued();
        failSnapshotRequest();
    }

    private void failSnapshotRequest() {
        final CompletableFuture<Void> request = snapshotRequest.getAndSet(null);
        if (request != null) {
            request.completeExceptionally(closed());
        }
    }

    private void failQueued() {
        Request request;
        while ((request = queue.poll()) != null) {
            request.future.completeExceptionally(closed());
        }
    }

    private static ReplicationException closed() {
        return new ReplicationException("the replicated map is closed; the command's outcome is unknown", null);
    }

    /** Stops the thread; every command not yet answered fails with a {@link ReplicationException}. */
    @Override
    public void close() {
        running = false;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        CloseHelper.quietClose(aeron);
    }
}
