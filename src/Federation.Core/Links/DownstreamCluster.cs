using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// The cluster and virtual host that a downstream URI reaches, as the broker names itself once connected (RabbitMQ's
/// <c>cluster_name</c>). A reload that writes the downstream's address another way (the machine's name instead of
/// <c>127.0.0.1</c>, another node of the same cluster) reaches the same downstream, whose links keep their ids, upstream
/// queues and duplicate-suppression ledgers; nothing in the URIs' text tells that, only connecting does (as
/// <see cref="UpstreamCluster"/> does for upstreams). Taken for another downstream, every link's ledger was dropped, and a
/// message-id published before the reload and again after it crossed twice.
/// </summary>
internal static class DownstreamCluster
{
    /// <summary>How long finding out may take: the reload waits for it, while the links run on.</summary>
    public static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    /// <summary>The name the broker lists the probe's connection under, so that an operator who sees it knows what it is.</summary>
    public const string ProbeConnectionName = "Federation downstream cluster probe";

    /// <summary>
    /// Connects to <paramref name="uri"/> through its transport and reads the cluster name and virtual host it advertises.
    /// Null when it cannot tell (no answer within <see cref="Within"/>, any other failure, no cluster name advertised),
    /// which is logged (event 2039) with the redacted URI and the reason.
    /// </summary>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="stopping"/> fired (the engine stops): the probe tells nothing, and is abandoned at once whatever the
    /// transport does.
    /// </exception>
    public static async Task<(string ClusterName, string VirtualHost)?> NamesAsync(string uri, TransportResolver transports, ILogger logger, TimeProvider time, CancellationToken stopping)
    {
        using var limit = new CancellationTokenSource(Within, time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, stopping);
        IBrokerConnection connection;
        try
        {
            connection = await ConnectDeadline.ConnectAsync(transports.Resolve(uri), new ConnectionRequest(uri, ProbeConnectionName), time, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            throw new OperationCanceledException("The probe of the downstream cluster was cancelled: the engine stops.", stopping);
        }
#pragma warning disable CA1031 // Whatever a connect throws (not only TransportException: a client's unmapped error, the
                               // deadline) means "cannot tell" here, never a failed reload: the links still run.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.DownstreamClusterProbeFailed(logger, UriRedaction.Redact(uri), limit.IsCancellationRequested ? $"no answer within {ConnectDeadline.Describe(Within)}" : FailureEpisode.Describe(ex).TrimEnd('.'));
            return null;
        }

        var named = await AdvertisedNames.ReadAndCloseAsync(connection).ConfigureAwait(false);
        if (named is null)
        {
            Log.DownstreamClusterProbeFailed(logger, UriRedaction.Redact(uri), "the broker gives no cluster name once connected");
        }

        return named;
    }
}
