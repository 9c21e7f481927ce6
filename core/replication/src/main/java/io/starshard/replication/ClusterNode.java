package io.starshard.replication;

import io.aeron.archive.Archive;
import io.aeron.archive.ArchiveThreadingMode;
import io.aeron.archive.client.AeronArchive;
import io.aeron.cluster.ClusteredMediaDriver;
import io.aeron.cluster.ConsensusModule;
import io.aeron.cluster.service.ClusteredService;
import io.aeron.cluster.service.ClusteredServiceContainer;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.security.AuthorisationService;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.NoOpLock;

import java.io.File;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One cluster member's Aeron processes: a media driver, an archive (the log's and snapshots' storage), the consensus
 * module (Raft) and the container that runs the map's clustered service. The one place that turns the builder's
 * settings into Aeron's contexts.
 *
 * <p>Ports: member {@code m} listens on {@code portBase + 10 m + k}, with k = 0 client ingress, 1 consensus, 2 log,
 * 3 catch-up, 4 archive control. The driver and archive run their agents on one shared thread each, which keeps a
 * three-member cluster in one JVM workable on two cores; dedicated threads lower latency on a machine of their own.
 */
final class ClusterNode implements AutoCloseable {
    static final int PORTS_PER_MEMBER = 10;
    static final int INGRESS_PORT = 0;
    static final int CONSENSUS_PORT = 1;
    static final int LOG_PORT = 2;
    static final int CATCHUP_PORT = 3;
    static final int ARCHIVE_PORT = 4;

    private final ClusteredMediaDriver driver;
    private final ClusteredServiceContainer container;

    private ClusterNode(ClusteredMediaDriver driver, ClusteredServiceContainer container) {
        this.driver = driver;
        this.container = container;
    }

    /** The cluster's member list in Aeron's form: id,ingress,consensus,log,catchup,archive|... */
    static String clusterMembers(List<String> hosts, int portBase) {
        final StringBuilder members = new StringBuilder();
        for (int m = 0; m < hosts.size(); m++) {
            final String host = hosts.get(m);
            members.append(m)
                .append(',').append(endpoint(host, portBase, m, INGRESS_PORT))
                .append(',').append(endpoint(host, portBase, m, CONSENSUS_PORT))
                .append(',').append(endpoint(host, portBase, m, LOG_PORT))
                .append(',').append(endpoint(host, portBase, m, CATCHUP_PORT))
                .append(',').append(endpoint(host, portBase, m, ARCHIVE_PORT))
                .append('|');
        }
        return members.toString();
    }

    /** The client's ingress endpoints: id=host:port,... */
    static String ingressEndpoints(List<String> hosts, int portBase) {
        final StringBuilder endpoints = new StringBuilder();
        for (int m = 0; m < hosts.size(); m++) {
            if (m > 0) {
                endpoints.append(',');
            }
            endpoints.append(m).append('=').append(endpoint(hosts.get(m), portBase, m, INGRESS_PORT));
        }
        return endpoints.toString();
    }

    static String endpoint(String host, int portBase, int member, int port) {
        return host + ":" + (portBase + member * PORTS_PER_MEMBER + port);
    }

    /**
     * Starts the member. A member restarted moments after its process was killed finds its mark files still
     * "active" (their heartbeat is recent) and Aeron refuses to start; that is retried until the mark file has
     * timed out, up to {@code settings.startRetry()}.
     */
    static ClusterNode launch(ReplicatedMapBuilder<?, ?> settings, ClusteredService service, ErrorHandler errors) {
        final long deadline = System.nanoTime() + settings.startRetry().toNanos();
        while (true) {
            try {
                return launchOnce(settings, service, errors);
            } catch (RuntimeException e) {
                if (!isActiveMarkFile(e) || System.nanoTime() > deadline) {
                    throw e;
                }
                sleep(500);
            }
        }
    }

    private static boolean isActiveMarkFile(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            final String message = t.getMessage();
            if (message != null && message.toLowerCase(java.util.Locale.ROOT).contains("active mark file")) {
                return true;
            }
        }
        return false;
    }

    private static ClusterNode launchOnce(ReplicatedMapBuilder<?, ?> s, ClusteredService service,
                                          ErrorHandler errors) {
        final int member = s.memberId();
        final String host = s.hosts().get(member);
        final String aeronDir = s.aeronDirectory().toString();
        final File base = s.directory().toFile();
        final int syncLevel = s.fsync() ? 1 : 0;

        final MediaDriver.Context driverContext = new MediaDriver.Context()
            .aeronDirectoryName(aeronDir)
            .threadingMode(ThreadingMode.SHARED)
            .sharedIdleStrategy(s.idleStrategy().get())
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .termBufferSparseFile(true)
            .errorHandler(errors);

        final Archive.Context archiveContext = new Archive.Context()
            .aeronDirectoryName(aeronDir)
            .archiveDir(new File(base, "archive"))
            .controlChannel("aeron:udp?endpoint=" + endpoint(host, s.portBase(), member, ARCHIVE_PORT))
            .archiveClientContext(new AeronArchive.Context().controlResponseChannel("aeron:udp?endpoint=" + host
                + ":0"))
            .localControlChannel("aeron:ipc?term-length=64k")
            .replicationChannel("aeron:udp?endpoint=" + host + ":0")
            .recordingEventsEnabled(false)
            .threadingMode(ArchiveThreadingMode.SHARED)
            .idleStrategySupplier(s.idleStrategy())
            .fileSyncLevel(syncLevel)
            .catalogFileSyncLevel(syncLevel)
            .errorHandler(errors);

        final AeronArchive.Context localArchive = new AeronArchive.Context()
            .lock(NoOpLock.INSTANCE)
            .controlRequestChannel(archiveContext.localControlChannel())
            .controlRequestStreamId(archiveContext.localControlStreamId())
            .controlResponseChannel(archiveContext.localControlChannel())
            .aeronDirectoryName(aeronDir);

        final long heartbeatTimeout = s.heartbeatTimeout().toNanos();
        final ConsensusModule.Context consensus = new ConsensusModule.Context()
            .clusterMemberId(member)
            .clusterMembers(clusterMembers(s.hosts(), s.portBase()))
            .clusterDir(new File(base, "cluster"))
            .archiveContext(localArchive.clone())
            .serviceCount(1)
            .ingressChannel("aeron:udp")
            .logChannel("aeron:udp?term-length=" + s.logTermLength())
            .replicationChannel("aeron:udp?endpoint=" + host + ":0")
            .leaderHeartbeatTimeoutNs(heartbeatTimeout)
            .leaderHeartbeatIntervalNs(Math.max(TimeUnit.MILLISECONDS.toNanos(10), heartbeatTimeout / 10))
            .startupCanvassTimeoutNs(Math.max(heartbeatTimeout * 5, TimeUnit.SECONDS.toNanos(5)))
            .sessionTimeoutNs(Math.max(heartbeatTimeout * 5, TimeUnit.SECONDS.toNanos(10)))
            .idleStrategySupplier(s.idleStrategy())
            .fileSyncLevel(syncLevel)
            // The deduplication table's retention is in milliseconds of cluster time.
            .clusterClock(new io.aeron.cluster.MillisecondClusterClock())
            // Clients may ask for a snapshot (ReplicatedShardedHashMap.takeSnapshot): the map's own admin request.
            .authorisationServiceSupplier(() -> AuthorisationService.ALLOW_ALL)
            .errorHandler(errors);

        final ClusteredServiceContainer.Context serviceContext = new ClusteredServiceContainer.Context()
            .aeronDirectoryName(aeronDir)
            .archiveContext(localArchive.clone())
            .clusterDir(new File(base, "cluster"))
            .clusteredService(service)
            .serviceId(0)
            .idleStrategySupplier(s.idleStrategy())
            .errorHandler(errors);

        ClusteredMediaDriver driver = null;
        try {
            driver = ClusteredMediaDriver.launch(driverContext, archiveContext, consensus);
            final ClusteredServiceContainer container = ClusteredServiceContainer.launch(serviceContext);
            return new ClusterNode(driver, container);
        } catch (RuntimeException | Error e) {
            CloseHelper.quietClose(driver);
            throw e;
        }
    }

    /** Stops the service container first (no more applies), then the consensus module, archive and driver. */
    @Override
    public void close() {
        CloseHelper.closeAll(container, driver);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ReplicationException("interrupted while waiting to restart the member", e);
        }
    }
}
