using System.Collections.Concurrent;
using System.Threading.Channels;
using Federation.Core.Diagnostics;
using Federation.Core.Links.Ownership;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// Keeps the running links equal to what the definitions and the downstream topology ask for. All of its state is
/// owned by one loop that handles messages one at a time (reconfiguration, topology changes, restarts), so changes
/// apply in order without locks; the links themselves run on their own tasks.
/// </summary>
internal sealed class LinkSupervisor : IAsyncDisposable
{
    // The downstream connection retries like a link with the default reconnect keys: at once, then exponentially from
    // 5 s up to a minute, with jitter. A session that stayed up this long counts as progress and resets the schedule.
    private static readonly TimeSpan DownstreamRetryDelay = ResolvedUpstream.DefaultReconnectDelay;

    // How long a gap in the topology serials may stay open before we stop waiting for the missing change and resync.
    private static readonly TimeSpan SerialGapPatience = TimeSpan.FromSeconds(2);

    private readonly TransportResolver _transports;
    private readonly FederationTelemetry _telemetry;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<Func<Task>> _inbox = Channel.CreateUnbounded<Func<Task>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly DownstreamHandle _downstream = new();
    private readonly ConcurrentDictionary<string, char> _generations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ExchangeSpec> _exchanges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ExchangeBindings> _bindings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ExchangeLink> _links = new(StringComparer.Ordinal);
    private readonly TopologySequencer _sequencer = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ExplicitTopology? _explicitTopology;
    private readonly string _defaultInstanceName = DefaultInstanceName.Next();
    private FederationDefinitions _definitions;
    private readonly FailureEpisode _downstreamFailures = new();
    private readonly ReconnectBackoff _downstreamBackoff = new(ReconnectBackoffMode.Exponential, DownstreamRetryDelay, ResolvedUpstream.DefaultReconnectDelayMax);
    private DownstreamSession? _session;
    private DateTimeOffset _sessionSince;
    private IDisposable? _topologySubscription;

    // The downstream connect attempt in flight, and the wait before the next one. Both run off the loop, so that a
    // downstream that never answers holds up neither reconfiguration, nor restarts, nor stop; only the loop touches them.
    private volatile CancellationTokenSource? _connectAttempt;
    private CancellationTokenSource? _retryWait;
    private int _sessionNumber;
    private bool _gapCheckScheduled;
    private readonly Task _loop;
    private readonly LinkOwnership? _ownership;
    private readonly InstancePresence? _presence;

    public LinkSupervisor(FederationDefinitions definitions, TransportResolver transports, FederationTelemetry telemetry, ILoggerFactory loggerFactory, TimeProvider time, ExplicitTopology? explicitTopology = null)
    {
        _definitions = definitions;
        _explicitTopology = explicitTopology;
        _transports = transports;
        _telemetry = telemetry;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Federation.Core.LinkSupervisor");
        _time = time;
        LogDuplicateSetElements(definitions);
        if (definitions.SpreadLinks)
        {
            _ownership = new LinkOwnership(InstanceName, OwnershipTimings.Default, time);
            _presence = new InstancePresence(_ownership, _downstream, time, loggerFactory.CreateLogger("Federation.Core.InstancePresence"));
        }
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The effective cluster name once the downstream is connected.</summary>
    public string? ClusterName => _session?.ClusterName;

    /// <summary>This engine's name as recorded with the link leases it holds: the configured one, or <c>machine:pid</c>.</summary>
    public string InstanceName => _definitions.InstanceName ?? _defaultInstanceName;

    /// <summary>Whether the downstream is connected.</summary>
    public bool DownstreamConnected => _session is not null;

    /// <summary>Status entries of every link, ordered by exchange then upstream.</summary>
    public IReadOnlyList<LinkStatus> GetStatuses() =>
        [.. _links.Values.Select(l => l.Status).OrderBy(s => s.Exchange, StringComparer.Ordinal).ThenBy(s => s.Upstream, StringComparer.Ordinal).ThenBy(s => s.UpstreamExchange, StringComparer.Ordinal)];

    /// <summary>Makes the first downstream connection attempt; links follow once it is connected.</summary>
    public void Start() => Post(() =>
    {
        _presence?.Start();
        BeginConnectDownstream();
        return Task.CompletedTask;
    });

    /// <summary>
    /// Applies new definitions; only links whose definition changed are restarted. A failure is logged and rethrown; the
    /// supervisor stays connected to (or keeps trying) the downstream and takes the next reconfiguration.
    /// </summary>
    public Task ReconfigureAsync(FederationDefinitions definitions) => Ask(async () =>
    {
        LogDuplicateSetElements(definitions);
        try
        {
            await ApplyDefinitionsAsync(definitions).ConfigureAwait(false);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            Log.ReconfigurationFailed(_logger, ex);

            // Whatever broke, keep a way back: without a downstream session there must be an attempt or a retry under way.
            if (_session is null && _retryWait is null)
            {
                BeginConnectDownstream();
            }

            throw;
        }
    });

    /// <summary>Restarts the link with <paramref name="id"/>; false when there is none.</summary>
    public Task<bool> RestartLinkAsync(string id) => Ask(() =>
    {
        if (!_links.TryGetValue(id, out var link))
        {
            return Task.FromResult(false);
        }

        link.RequestRestart();
        return Task.FromResult(true);
    });

    /// <summary>
    /// Stops every link cleanly (deleting upstream objects unless <c>never</c>) and closes the downstream. A downstream
    /// connect attempt in flight is abandoned at once. When <paramref name="cancellationToken"/> fires first (a host's
    /// shutdown deadline), whatever is still stopping is abandoned, logged at warning, and the method returns without throwing.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        // First, so that nothing new starts and a connect or snapshot in flight gives up instead of running to its timeout.
        var abandoned = DescribeConnectsInFlight();
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (abandoned.Length > 0)
        {
            Log.ConnectsAbandoned(_logger, abandoned);
        }

        var stopped = Ask(async () =>
        {
            CancelConnectAttempt();

            // While other instances are live this is a handover, not the end of the links: keep their upstream queues for
            // the next holder, and say we leave once the leases are released, so that the others take them at once.
            var handOver = _ownership?.OthersLive == true;
            await Task.WhenAll(_links.Values.Select(l => l.StopAsync(cleanup: !handOver))).ConfigureAwait(false);
            _links.Clear();
            if (_presence is not null)
            {
                await _presence.LeaveAsync().ConfigureAwait(false);
            }
            await DisconnectDownstreamAsync().ConfigureAwait(false);
        });
        try
        {
            await stopped.WaitAsync(cancellationToken).ConfigureAwait(false);
            _inbox.Writer.TryComplete();
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _inbox.Writer.TryComplete();
            Log.StopAbandoned(_logger, DescribeUnfinishedStop());
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (_presence is not null)
        {
            await _presence.DisposeAsync().ConfigureAwait(false);
        }

        // After an abandoned stop the loop may still use the token; it is only disposed once nothing can.
        if (_loop.IsCompleted)
        {
            _stopping.Dispose();
        }
    }

    private async Task LoopAsync()
    {
        await foreach (var work in _inbox.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await work().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // Stopping: work cut short on purpose.
            }
            catch (Exception ex)
            {
                Log.SupervisorFailed(_logger, ex);
            }
        }
    }

    private void Post(Func<Task> work) => _inbox.Writer.TryWrite(work);

    private Task<bool> Ask(Func<Task> work) => Ask(async () =>
    {
        await work().ConfigureAwait(false);
        return true;
    });

    private Task<T> Ask<T>(Func<Task<T>> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var posted = _inbox.Writer.TryWrite(async () =>
        {
            try
            {
                done.TrySetResult(await work().ConfigureAwait(false));
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        });
        if (!posted)
        {
            done.TrySetException(new ObjectDisposedException(nameof(LinkSupervisor)));
        }

        return done.Task;
    }

    // Once per configuration taken (at start and at each reconfiguration), not per resolved exchange.
    private void LogDuplicateSetElements(FederationDefinitions definitions)
    {
        foreach (var duplicate in definitions.DuplicateSetElements)
        {
            Log.DuplicateSetElement(_logger, duplicate.Set, duplicate.Index, duplicate.Upstream, duplicate.FirstIndex);
        }
    }

    private async Task ApplyDefinitionsAsync(FederationDefinitions definitions)
    {
        var identityChanged = definitions.ClusterName != _definitions.ClusterName || definitions.DownstreamUri != _definitions.DownstreamUri;
        _definitions = definitions;
        if (identityChanged)
        {
            if (_session is not null)
            {
                // Another downstream, or another cluster name (queue names and loop detection depend on it): start over.
                // Stop the links first, while they still have their sessions, so that they clean up their upstream objects.
                await Task.WhenAll(_links.Values.Select(l => l.StopAsync(cleanup: true))).ConfigureAwait(false);
                _links.Clear();
                await DisconnectDownstreamAsync().ConfigureAwait(false);
            }

            // An attempt at the previous downstream is of no use any more, and the new one starts with a clean schedule.
            CancelConnectAttempt();
            _downstreamBackoff.Reset();
            BeginConnectDownstream();
            return;
        }

        if (_session is null)
        {
            // Not connected (yet): links start once the downstream is; try now rather than at the next retry.
            BeginConnectDownstream();
            return;
        }

        await ReconcileAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a downstream connect attempt in the background unless connected, connecting or stopping. Its outcome comes
    /// back to the loop through <see cref="OnDownstreamAttemptDoneAsync"/>. Loop only.
    /// </summary>
    private void BeginConnectDownstream()
    {
        if (_session is not null || _connectAttempt is not null || _stopping.IsCancellationRequested)
        {
            return;
        }

        CancelRetryWait();
        var uri = _definitions.DownstreamUri;
        var number = ++_sessionNumber;
        var attempt = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        _connectAttempt = attempt;
        _ = ConnectDownstreamInBackgroundAsync(number, uri, attempt);
    }

    private async Task ConnectDownstreamInBackgroundAsync(int number, string uri, CancellationTokenSource attempt)
    {
        IBrokerConnection? connection = null;
        Exception? failure = null;
        try
        {
            // In explicit mode the host declares the topology; the downstream broker is not observed (no management API needed).
            var request = new ConnectionRequest(uri, "Federation supervisor", ObserveTopology: _explicitTopology is null);
            connection = await ConnectDeadline.ConnectAsync(_transports.Resolve(uri), request, _time, attempt.Token).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Every failure is handed to the loop, which logs it and retries.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ex;
        }

        if (!_inbox.Writer.TryWrite(() => OnDownstreamAttemptDoneAsync(number, uri, attempt, connection, failure)))
        {
            // The supervisor has stopped: nobody will use this connection.
            attempt.Dispose();
            await CloseQuietlyAsync(connection).ConfigureAwait(false);
        }
    }

    private async Task OnDownstreamAttemptDoneAsync(int number, string uri, CancellationTokenSource attempt, IBrokerConnection? connection, Exception? failure)
    {
        var current = ReferenceEquals(_connectAttempt, attempt);
        if (current)
        {
            _connectAttempt = null;
        }

        attempt.Dispose();
        if (!current || number != _sessionNumber || _stopping.IsCancellationRequested)
        {
            // Superseded by a reconfiguration (which started its own attempt), or stopping.
            await CloseQuietlyAsync(connection).ConfigureAwait(false);
            return;
        }

        if (connection is null)
        {
            DownstreamAttemptFailed(uri, failure!);
            return;
        }

        try
        {
            await UseDownstreamAsync(number, connection).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Any failure to take the connection into use is logged and retried, or ends in the stop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _downstream.Invalidate();
            _topologySubscription?.Dispose();
            _topologySubscription = null;
            _session = null;
            await CloseQuietlyAsync(connection).ConfigureAwait(false);
            if (!_stopping.IsCancellationRequested)
            {
                DownstreamAttemptFailed(uri, ex);
            }

            return;
        }

        try
        {
            await ReconcileAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            // The downstream is fine; the links are reconciled again at the next change.
            Log.ReconfigurationFailed(_logger, ex);
        }
    }

    /// <summary>Takes a fresh downstream connection into use: topology subscription, snapshot, session. Loop only.</summary>
    private async Task UseDownstreamAsync(int number, IBrokerConnection connection)
    {
        var topology = _explicitTopology ?? connection.Topology
            ?? throw new TransportException($"The downstream transport for '{connection.DisplayUri}' cannot observe exchanges and bindings; declare them through an ExplicitTopology instead.");
        var clusterName = _definitions.ClusterName ?? connection.ClusterName
            ?? throw new TransportException($"The downstream '{connection.DisplayUri}' advertises no cluster name; set Federation:ClusterName.");

        // Subscribe before the snapshot; the sequencer discards what the snapshot already covers.
        _topologySubscription = topology.Subscribe(change => Post(() => OnTopologyChangeAsync(number, change)));
        var snapshot = await topology.GetSnapshotAsync(_stopping.Token).ConfigureAwait(false);
        _session = new DownstreamSession(connection, clusterName, connection.VirtualHost);
        if (_explicitTopology is not null)
        {
            // Declared again after every reconnect: the broker may have restarted without them.
            foreach (var exchange in snapshot.Exchanges)
            {
                await DeclareOnDownstreamAsync(new TopologyChange(snapshot.Serial, TopologyChangeKind.ExchangeDeclared, Exchange: exchange)).ConfigureAwait(false);
            }

            foreach (var binding in snapshot.Bindings)
            {
                await DeclareOnDownstreamAsync(new TopologyChange(snapshot.Serial, TopologyChangeKind.BindingAdded, Binding: binding)).ConfigureAwait(false);
            }
        }

        LoadSnapshot(snapshot);
        _downstream.Set(_session);
        _sessionSince = _time.GetUtcNow();
        Log.DownstreamConnected(_logger, UriRedaction.Redact(connection.DisplayUri), clusterName, connection.VirtualHost);
        if (_downstreamFailures.Up() is > 0 and var failed)
        {
            Log.DownstreamRecovered(_logger, connection.DisplayUri, failed);
        }

        _ = connection.Completion.ContinueWith(
            _ => Post(() => OnDownstreamLostAsync(number)),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Logs a failed downstream attempt (once per episode at warning, every one at debug) and schedules the next. Loop only.</summary>
    private void DownstreamAttemptFailed(string uri, Exception failure)
    {
        var redacted = UriRedaction.Redact(uri);
        var cause = FailureEpisode.Describe(failure);
        var step = _downstreamFailures.Fail();
        var delay = _downstreamBackoff.NextDelay();
        Log.DownstreamAttemptFailed(_logger, failure, _downstreamFailures.Failures, redacted);
        switch (step)
        {
            case FailureLogStep.Started:
                Log.DownstreamFailed(_logger, redacted, cause, delay);
                break;
            case FailureLogStep.Summary:
                Log.DownstreamStillFailing(_logger, redacted, _downstreamFailures.Failures, cause, delay);
                break;
            case FailureLogStep.Quiet:
                break;
        }

        RetryDownstreamAfter(delay);
    }

    /// <summary>Connects again now, or after <paramref name="delay"/> unless something connects sooner. Loop only.</summary>
    private void RetryDownstreamAfter(TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            BeginConnectDownstream();
            return;
        }

        var wait = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        _retryWait = wait;
        _ = RetryDownstreamLaterAsync(wait, delay);
    }

    private async Task RetryDownstreamLaterAsync(CancellationTokenSource wait, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time, wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return; // Stopping, or an attempt started earlier (reconfiguration).
        }

        Post(() =>
        {
            if (ReferenceEquals(_retryWait, wait))
            {
                _retryWait = null;
                wait.Dispose();
                BeginConnectDownstream();
            }

            return Task.CompletedTask;
        });
    }

    private void CancelConnectAttempt()
    {
        // Its completion still comes back to the loop, which sees it is no longer current, closes and disposes it.
        _connectAttempt?.Cancel();
        _connectAttempt = null;
    }

    private void CancelRetryWait()
    {
        if (_retryWait is { } wait)
        {
            _retryWait = null;
            wait.Cancel();
            wait.Dispose();
        }
    }

    /// <summary>What a stop cuts short: the downstream connect attempt in flight, and links that are not up. Any thread.</summary>
    private string DescribeConnectsInFlight()
    {
        var inFlight = new List<string>();
        if (_connectAttempt is not null)
        {
            inFlight.Add($"connecting to downstream {UriRedaction.Redact(_definitions.DownstreamUri)}");
        }

        var notUp = _links.Values.Select(l => l.Status).Where(s => s.State is LinkState.Starting or LinkState.Error).ToList();
        if (notUp.Count > 0)
        {
            inFlight.Add($"{notUp.Count} link(s) not up: {string.Join(", ", notUp.OrderBy(s => s.Id, StringComparer.Ordinal).Select(s => $"{s.Id} ({s.Exchange} <- {s.Upstream}, {s.Uri})"))}");
        }

        return string.Join("; ", inFlight);
    }

    private string DescribeUnfinishedStop()
    {
        var unfinished = new List<string>();
        if (!_links.IsEmpty)
        {
            unfinished.Add($"the clean stop of {_links.Count} link(s) ({string.Join(", ", _links.Keys.Order(StringComparer.Ordinal))}); their upstream objects may remain");
        }

        unfinished.Add($"closing the downstream {UriRedaction.Redact(_definitions.DownstreamUri)}");

        return string.Join("; ", unfinished);
    }

    private static async ValueTask CloseQuietlyAsync(IBrokerConnection? connection)
    {
        if (connection is null)
        {
            return;
        }

        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Closing a connection we no longer want: whatever it throws, it is gone.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private async Task OnDownstreamLostAsync(int sessionNumber)
    {
        if (sessionNumber != _sessionNumber || _session is null)
        {
            return;
        }

        // A session that stayed up a while ends the failure episode and gets the immediate retry; one lost right away
        // continues both, so a downstream that accepts and then drops every connection is not retried in a hot loop.
        if (_time.GetUtcNow() - _sessionSince >= DownstreamRetryDelay)
        {
            _downstreamFailures.End();
            _downstreamBackoff.Reset();
        }

        // Links keep their upstream queues and wait for the new downstream session; bindings resync from a new snapshot.
        await DisconnectDownstreamAsync().ConfigureAwait(false);
        RetryDownstreamAfter(_downstreamBackoff.NextDelay());
    }

    private async Task DisconnectDownstreamAsync()
    {
        _downstream.Invalidate();
        _topologySubscription?.Dispose();
        _topologySubscription = null;
        var session = _session;
        _session = null;
        if (session is not null)
        {
            await session.Connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void LoadSnapshot(TopologySnapshot snapshot)
    {
        _sequencer.Reset(snapshot.Serial);
        _exchanges.Clear();
        foreach (var exchange in snapshot.Exchanges)
        {
            _exchanges[exchange.Name] = exchange;
        }

        // Rebuild the trackers from scratch, then diff them into the existing ones so running links get only the changes.
        var fresh = snapshot.Bindings.GroupBy(b => b.Source, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var (source, bindings) in _bindings)
        {
            bindings.ReplaceAll(fresh.TryGetValue(source, out var list) ? list : []);
        }

        foreach (var (source, list) in fresh)
        {
            if (!_bindings.ContainsKey(source))
            {
                var bindings = BindingsOf(source);
                foreach (var binding in list)
                {
                    bindings.Add(binding);
                }
            }
        }
    }

    private async Task OnTopologyChangeAsync(int sessionNumber, TopologyChange change)
    {
        if (sessionNumber != _sessionNumber)
        {
            return;
        }

        var reconcile = false;
        foreach (var ready in _sequencer.Accept(change))
        {
            if (_explicitTopology is not null)
            {
                await DeclareOnDownstreamAsync(ready).ConfigureAwait(false);
            }

            reconcile |= Apply(ready);
        }

        if (reconcile)
        {
            await ReconcileAsync().ConfigureAwait(false);
        }

        if (_sequencer.PendingCount > 0 && !_gapCheckScheduled)
        {
            _gapCheckScheduled = true;
            _ = CheckSerialGapLaterAsync(sessionNumber, _sequencer.LastApplied);
        }
    }

    /// <summary>
    /// A change that never arrives would hold every later one back. If the gap is still open after a while, take a fresh
    /// snapshot: it covers the missing change, and the trackers diff themselves against it.
    /// </summary>
    private async Task CheckSerialGapLaterAsync(int sessionNumber, long stuckAt)
    {
        try
        {
            await Task.Delay(SerialGapPatience, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        Post(async () =>
        {
            _gapCheckScheduled = false;
            if (sessionNumber != _sessionNumber || _session?.Connection.Topology is not { } topology
                || _sequencer.PendingCount == 0 || _sequencer.LastApplied != stuckAt)
            {
                return;
            }

            Log.TopologyResync(_logger, stuckAt);
            LoadSnapshot(await topology.GetSnapshotAsync(_stopping.Token).ConfigureAwait(false));
            await ReconcileAsync().ConfigureAwait(false);
        });
    }

    /// <summary>
    /// Explicit mode: makes the downstream broker match a change the host declared. A refusal (a queue that does not
    /// exist, an exchange redeclared with other properties) is logged; federation of the other objects goes on.
    /// </summary>
    private async Task DeclareOnDownstreamAsync(TopologyChange change)
    {
        if (_session is not { } session)
        {
            return; // Not connected: the snapshot taken at the next connect declares the current state.
        }

        var connection = session.Connection;
        try
        {
            switch (change.Kind)
            {
                case TopologyChangeKind.ExchangeDeclared:
                    await connection.DeclareExchangeAsync(change.Exchange!, _stopping.Token).ConfigureAwait(false);
                    break;
                case TopologyChangeKind.ExchangeDeleted:
                    await connection.DeleteExchangeAsync(change.Exchange!.Name, _stopping.Token).ConfigureAwait(false);
                    break;
                case TopologyChangeKind.BindingAdded:
                    await connection.BindAsync(change.Binding!, noWait: false, _stopping.Token).ConfigureAwait(false);
                    break;
                case TopologyChangeKind.BindingRemoved:
                    await connection.UnbindAsync(change.Binding!, noWait: false, _stopping.Token).ConfigureAwait(false);
                    break;
            }
        }
        catch (TransportException ex) when (ex is not ConnectionLostException)
        {
            Log.ExplicitTopologyFailed(_logger, ex, Describe(change), connection.DisplayUri);
        }
    }

    private static string Describe(TopologyChange change) => change.Kind switch
    {
        TopologyChangeKind.ExchangeDeclared or TopologyChangeKind.ExchangeDeleted => $"{change.Kind} {change.Exchange!.Name}",
        _ => $"{change.Kind} {change.Binding!.Source} -> {change.Binding.Destination} ({change.Binding.RoutingKey})",
    };

    /// <summary>Applies one change; returns true when the set of exchanges changed (links may start or stop).</summary>
    private bool Apply(TopologyChange change)
    {
        switch (change.Kind)
        {
            case TopologyChangeKind.ExchangeDeclared when change.Exchange is not null:
                _exchanges[change.Exchange.Name] = change.Exchange;
                return true;
            case TopologyChangeKind.ExchangeDeleted when change.Exchange is not null:
                _exchanges.Remove(change.Exchange.Name);
                if (_bindings.Remove(change.Exchange.Name, out var removed))
                {
                    removed.ReplaceAll([]);
                }

                foreach (var bindings in _bindings.Values)
                {
                    bindings.RemoveDestination(change.Exchange.Name, BindingDestinationKind.Exchange);
                }

                return true;
            case TopologyChangeKind.BindingAdded when change.Binding is not null:
                BindingsOf(change.Binding.Source).Add(change.Binding);
                return false;
            case TopologyChangeKind.BindingRemoved when change.Binding is not null:
                if (_bindings.TryGetValue(change.Binding.Source, out var existing))
                {
                    existing.Remove(change.Binding);
                }

                return false;
            default:
                return false;
        }
    }

    private ExchangeBindings BindingsOf(string exchange)
    {
        if (!_bindings.TryGetValue(exchange, out var bindings))
        {
            bindings = new ExchangeBindings();
            _bindings.Add(exchange, bindings);
        }

        return bindings;
    }

    /// <summary>Stops links nobody asks for any more, restarts changed ones, and starts missing ones.</summary>
    private async Task ReconcileAsync()
    {
        if (_session is not { } session || _stopping.IsCancellationRequested)
        {
            return;
        }

        var desired = new Dictionary<string, LinkDefinition>(StringComparer.Ordinal);
        foreach (var exchange in _exchanges.Values.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var resolution = _definitions.Resolve(exchange);
            foreach (var upstream in resolution.Upstreams)
            {
                var upstreamExchange = upstream.UpstreamExchangeFor(exchange.Name);
                var id = LinkId.For(session.ClusterName, session.VirtualHost, exchange.Name, upstream.UpstreamName, upstreamExchange);
                if (!desired.TryAdd(id, new LinkDefinition(id, exchange, upstream, resolution.PolicyName, session.ClusterName, session.VirtualHost)))
                {
                    Log.DuplicateLink(_logger, id, exchange.Name, upstream.UpstreamName, upstreamExchange);
                }
            }
        }

        // Stop first, and wait: a replacement link must not start until its predecessor has cleaned up the queue they share.
        var stopping = new List<Task>();
        foreach (var (id, link) in _links)
        {
            if (!desired.TryGetValue(id, out var wanted) || wanted != link.Definition)
            {
                _links.TryRemove(id, out _);
                stopping.Add(link.StopAsync(cleanup: true));
            }
        }

        await Task.WhenAll(stopping).ConfigureAwait(false);

        foreach (var (id, definition) in desired)
        {
            if (_links.ContainsKey(id))
            {
                continue;
            }

            Log.LinkStarting(_logger, id, definition.Exchange.Name, definition.Upstream.UpstreamName);
            var link = new ExchangeLink(definition, _transports, _downstream, BindingsOf(definition.Exchange.Name), _generations, _telemetry, _loggerFactory.CreateLogger("Federation.Core.ExchangeLink"), _time, InstanceName, _ownership);
            _links[id] = link;
            link.Start();
        }
    }
}
