using System.Collections.Concurrent;
using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// The cluster and virtual host that an upstream's URIs reach, as the broker names itself once connected (RabbitMQ's
/// <c>cluster_name</c>, a NATS server's cluster). A reload that points a link at URIs that share no address with the old
/// ones (another node of the same RabbitMQ cluster, a host name instead of an address) may still reach the very queue the
/// link consumes: deleting it as left behind would discard what it holds and lose what the upstream publishes until the
/// new run has declared it again. Connecting to both sides is the only way to tell.
/// </summary>
/// <remarks>
/// One instance serves one pass (a reconciliation, or the second looks one reconciliation scheduled): each broker (set of
/// URIs and the transport that serves them) is probed once in it, whatever number of links moved from or to it, and the
/// answer is shared. Before, N links moved together opened 2N connections at once, each under the link's own name. A
/// probe that fails is logged once per broker (event 2037): it decides what happens to the old queues.
/// </remarks>
internal sealed class UpstreamCluster
{
    /// <summary>How long finding out may take for one broker (both sides are probed at once): a reload waits for it.</summary>
    public static readonly TimeSpan Within = TimeSpan.FromSeconds(10);

    private const string DeletedAsBefore = "deleted as before, as on another broker";

    // A stop (or the cancelled second look) is no evidence of a move: deleting would discard what the queue holds, which
    // the link consumes when it next runs if both sides reach one cluster. A queue left on another broker is the lesser harm.
    private const string Kept = "kept: a cancelled probe is no evidence of a move";

    private readonly ConcurrentDictionary<ProbeKey, Lazy<Task<Answer>>> _answers = new();
    private readonly TransportResolver _transports;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationToken _cancelled;
    private readonly string _cancelledBecause;

    /// <param name="transports">Resolves the upstream URIs.</param>
    /// <param name="logger">Where a failed probe is logged.</param>
    /// <param name="time">The clock <see cref="Within"/> is measured on.</param>
    /// <param name="cancelledBecause">What <paramref name="cancelled"/> firing means, for the log.</param>
    /// <param name="cancelled">Cancels every probe of the pass (the engine stops): what they tell then is nothing.</param>
    public UpstreamCluster(TransportResolver transports, ILogger logger, TimeProvider time, string cancelledBecause, CancellationToken cancelled)
    {
        _transports = transports;
        _logger = logger;
        _time = time;
        _cancelled = cancelled;
        _cancelledBecause = cancelledBecause;
    }

    /// <summary>
    /// Whether the upstreams of <paramref name="before"/> and <paramref name="after"/> reach one cluster and virtual host, by
    /// the names the first URI of each that answers gives (<see cref="UpstreamObjects.ConnectAsync"/>). Null when either
    /// cannot tell: no URI answered within <see cref="Within"/>, the connect failed in any other way, or the broker gives no
    /// cluster name; the old queue is then deleted as it was before these probes.
    /// </summary>
    /// <returns>The shared cluster name and virtual host, or null.</returns>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="cancellationToken"/> or the pass's cancellation fired: the probe tells nothing, and a cancellation is
    /// no evidence that the link moved. Never read as "cannot tell", which would delete the queue.
    /// </exception>
    public async Task<(string ClusterName, string VirtualHost)?> SharedAsync(LinkDefinition before, LinkDefinition after, CancellationToken cancellationToken)
    {
        var (old, now) = (AnswerFor(before), AnswerFor(after));

        // A waiter with a cancellation of its own (a sweep) gives up on it while the probes go on for the others of the pass
        // that share them. On the pass's cancellation, the probes themselves end at once (a connect is abandoned as soon as
        // it is cancelled, whatever the transport does): waiting for them means they have ended, and logged, by the time the
        // caller goes on.
        var both = Task.WhenAll(old, now);
        await (cancellationToken == _cancelled ? both : both.WaitAsync(cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (old.Result.Cancelled || now.Result.Cancelled)
        {
            throw new OperationCanceledException($"The probe of the upstream cluster was cancelled: {_cancelledBecause}.", _cancelled);
        }

        return old.Result.Named is { } shared && shared == now.Result.Named ? shared : null;
    }

    private Task<Answer> AnswerFor(LinkDefinition definition) =>
        _answers.GetOrAdd(ProbeKey.Of(definition, _transports), _ => new Lazy<Task<Answer>>(() => ProbeAsync(definition))).Value;

    /// <summary>Connects to the upstream of <paramref name="definition"/> and reads its names. Never throws.</summary>
    private async Task<Answer> ProbeAsync(LinkDefinition definition)
    {
        using var limit = new CancellationTokenSource(Within, _time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, _cancelled);
        IBrokerConnection connection;
        try
        {
            connection = await UpstreamObjects.ConnectAsync(definition, _transports, _time, deadline.Token, UpstreamNaming.ProbeConnectionName).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Whatever a connect throws (not only TransportException: a client's unmapped error, a
                               // cancellation of its own, the deadline) means "cannot tell" here, never a failed reload:
                               // the caller has yet to stop the old link.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (_cancelled.IsCancellationRequested)
            {
                LogFailure(definition, $"cancelled: {_cancelledBecause}", Kept);
                return Answer.CancelledProbe;
            }

            LogFailure(definition, limit.IsCancellationRequested ? $"no URI answered within {ConnectDeadline.Describe(Within)}" : Describe(ex), DeletedAsBefore);
            return Answer.CannotTell;
        }

        var named = await AdvertisedNames.ReadAndCloseAsync(connection).ConfigureAwait(false);
        if (named is null)
        {
            LogFailure(definition, "the broker gives no cluster name once connected", DeletedAsBefore);
        }

        return new Answer(named, Cancelled: false);
    }

    private void LogFailure(LinkDefinition definition, string reason, string outcome) =>
        Log.SameClusterProbeFailed(_logger, string.Join(", ", definition.Upstream.Uris.Select(UriRedaction.Redact)), reason.TrimEnd('.'), outcome);

    /// <summary>
    /// Why a connect failed, in one line: the last URI's own failure when none answered (the wrapper only says that none
    /// did), redacted.
    /// </summary>
    private static string Describe(Exception failure) =>
        FailureEpisode.Describe(failure is BrokerUnreachableException { InnerException: { } last } ? last : failure);

    /// <summary>What one broker said: its names, or nothing (cannot tell), or that its probe was cancelled.</summary>
    private sealed record Answer((string ClusterName, string VirtualHost)? Named, bool Cancelled)
    {
        public static readonly Answer CannotTell = new(null, Cancelled: false);

        public static readonly Answer CancelledProbe = new(null, Cancelled: true);
    }

    /// <summary>
    /// One broker as a probe reaches it: the upstream's URIs as a set (credentials included: other credentials may be
    /// refused where these are not, or see another vhost) and the transport that serves the first, which connects first.
    /// </summary>
    private readonly record struct ProbeKey(string Uris, ITransport? Transport)
    {
        public static ProbeKey Of(LinkDefinition definition, TransportResolver transports) => new(
            string.Join('\n', definition.Upstream.Uris.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)),
            transports.TryResolve(definition.Upstream.Uris[0], out var transport) ? transport : null);
    }
}
