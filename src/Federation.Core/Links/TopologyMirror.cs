using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// The supervisor's copy of the downstream topology: the exchanges (which decide the links) and, per exchange, the
/// bindings the links mirror upstream. It loads a snapshot, then follows the serial-numbered changes in order, resyncing
/// from a fresh snapshot when a gap stays open. In explicit mode each change is also declared on the downstream first.
/// </summary>
/// <remarks>Loop only.</remarks>
internal sealed class TopologyMirror
{
    // How long a gap in the topology serials may stay open before we stop waiting for the missing change and resync.
    private static readonly TimeSpan SerialGapPatience = TimeSpan.FromSeconds(2);

    private readonly SupervisorLoop _loop;
    private readonly DownstreamConnector _downstream;
    private readonly ITopologySource? _explicitTopology;
    private readonly ExplicitTopologyDeclarer? _declarer;
    private readonly Func<Task> _exchangesChanged;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationToken _stopping;
    private readonly Dictionary<string, ExchangeSpec> _exchanges = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ExchangeBindings> _bindings = new(StringComparer.Ordinal);
    private readonly TopologySequencer _sequencer = new();
    private IDisposable? _subscription;
    private bool _gapCheckScheduled;

    /// <param name="loop">The supervisor's loop, where changes are applied.</param>
    /// <param name="downstream">The downstream connection: which session is current, and its topology for a resync.</param>
    /// <param name="explicitTopology">The host's declared topology in explicit mode; null to observe the downstream's own.</param>
    /// <param name="declarer">Declares each change on the downstream in explicit mode; null otherwise.</param>
    /// <param name="exchangesChanged">Called when the set of exchanges changed, so that links start or stop.</param>
    /// <param name="logger">The supervisor's logger.</param>
    /// <param name="time">The clock for the gap check.</param>
    /// <param name="stopping">Fires when the supervisor stops.</param>
    public TopologyMirror(
        SupervisorLoop loop,
        DownstreamConnector downstream,
        ITopologySource? explicitTopology,
        ExplicitTopologyDeclarer? declarer,
        Func<Task> exchangesChanged,
        ILogger logger,
        TimeProvider time,
        CancellationToken stopping)
    {
        _loop = loop;
        _downstream = downstream;
        _explicitTopology = explicitTopology;
        _declarer = declarer;
        _exchangesChanged = exchangesChanged;
        _logger = logger;
        _time = time;
        _stopping = stopping;
    }

    /// <summary>The downstream exchanges, in no particular order.</summary>
    public IEnumerable<ExchangeSpec> Exchanges => _exchanges.Values;

    /// <summary>Where the topology of <paramref name="connection"/> comes from: the host's declaration, or the broker itself.</summary>
    public ITopologySource SourceFor(IBrokerConnection connection) => _explicitTopology ?? connection.Topology
        ?? throw new TransportException($"The downstream transport for '{connection.DisplayUri}' cannot observe exchanges and bindings; declare them through an ExplicitTopology instead.");

    /// <summary>
    /// Follows <paramref name="topology"/> for the session numbered <paramref name="sessionNumber"/> and returns its
    /// snapshot. The subscription comes first; the sequencer discards what the snapshot already covers.
    /// </summary>
    public async Task<TopologySnapshot> FollowAsync(int sessionNumber, ITopologySource topology)
    {
        _subscription = topology.Subscribe(change => _loop.Post(() => OnChangeAsync(sessionNumber, change)));
        return await topology.GetSnapshotAsync(_stopping).ConfigureAwait(false);
    }

    /// <summary>Stops following the topology of a session that went away.</summary>
    public void Unfollow()
    {
        _subscription?.Dispose();
        _subscription = null;
    }

    /// <summary>The bindings of <paramref name="exchange"/>, created empty the first time they are asked for.</summary>
    public ExchangeBindings BindingsOf(string exchange)
    {
        if (!_bindings.TryGetValue(exchange, out var bindings))
        {
            bindings = new ExchangeBindings();
            _bindings.Add(exchange, bindings);
        }

        return bindings;
    }

    /// <summary>Replaces the mirror with <paramref name="snapshot"/>; running links get only the binding groups that changed.</summary>
    public void Load(TopologySnapshot snapshot)
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

    private async Task OnChangeAsync(int sessionNumber, TopologyChange change)
    {
        if (sessionNumber != _downstream.SessionNumber)
        {
            return;
        }

        var exchangesChanged = false;
        foreach (var ready in _sequencer.Accept(change))
        {
            if (_declarer is not null)
            {
                await _declarer.DeclareAsync(_downstream.Session, ready).ConfigureAwait(false);
            }

            exchangesChanged |= Apply(ready);
        }

        if (exchangesChanged)
        {
            await _exchangesChanged().ConfigureAwait(false);
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
            await Task.Delay(SerialGapPatience, _time, _stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        _loop.Post(async () =>
        {
            _gapCheckScheduled = false;
            if (sessionNumber != _downstream.SessionNumber || _downstream.Session?.Connection.Topology is not { } topology
                || _sequencer.PendingCount == 0 || _sequencer.LastApplied != stuckAt)
            {
                return;
            }

            Log.TopologyResync(_logger, stuckAt);
            Load(await topology.GetSnapshotAsync(_stopping).ConfigureAwait(false));
            await _exchangesChanged().ConfigureAwait(false);
        });
    }

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
}
