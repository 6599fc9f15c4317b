using System.Globalization;
using System.Text.Json;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Nats.Transport;

/// <summary>
/// The downstream's interest, as bindings: (a) bindings made through this adapter connection, reported at once, and
/// (b) when the URI names a <c>monitor-port</c>, every client subscription the server lists at <c>/subsz?subs=1</c>, polled
/// every <c>monitor-interval-ms</c>. A subscription on <c>orders.eu.*</c> becomes a topic binding <c>eu.*</c> of exchange
/// <c>orders</c> to a pseudo-queue <c>nats-sub:&lt;cid&gt;:&lt;sid&gt;</c> (<c>&gt;</c> becomes <c>#</c>).
/// </summary>
/// <remarks>
/// Ignored: system accounts and <c>$</c> subjects, <c>_INBOX.</c> subjects, subjects whose exchange token is a wildcard, the
/// presence subjects of federation instances (<c>federation.presence.</c>), and the subscriptions of federation links (connections named <c>Federation link …</c>), so that a link's upstream interest is not
/// mistaken for local interest (this limits interest propagation to one hop; see README). Exchanges: those in the URI's
/// <c>namespaces</c> from the start, plus every exchange something has bound; exchanges are never reported deleted while
/// the connection lives, so links survive interest coming and going.
/// </remarks>
internal sealed class NatsTopologySource : ITopologySource, IAsyncDisposable
{
    private const string LinkConnectionPrefix = "Federation link";

    // Where the instances of every federation on this downstream announce themselves (Federation.Core's
    // FederationDefinitions.PresenceExchangePrefix): never federated, whatever a policy matches. The first token of those
    // subjects would otherwise be taken for an exchange, "federation", which a policy such as "^fed" federated: its link
    // subscribed upstream to the presence subjects and forwarded the upstream side's heartbeats and beacons here.
    private const string PresenceSubjectPrefix = "federation.presence.";

    private readonly NatsUriSettings _settings;
    private readonly Lock _lock = new();
    private readonly List<Action<TopologyChange>> _subscribers = [];
    private readonly Dictionary<string, ExchangeSpec> _exchanges = new(StringComparer.Ordinal);
    private readonly HashSet<BindingSpec> _apiBindings = [];
    private HashSet<BindingSpec> _polledBindings = [];

    // Subscriptions one poll did not see: removed only when the next does not see them either (see Apply).
    private HashSet<BindingSpec> _missedOnce = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient? _http;
    private Task? _poller;
    private TaskCompletionSource? _firstPoll;
    private long _serial;
    private readonly ILogger _logger;
    private readonly string _displayUri;
    private readonly string? _serverId;
    // How the log names the server this connection uses: the same kind of name as the other server's (server_name when set).
    private readonly string? _serverName;
    private readonly Action<string?>? _unobserved;
    private bool _monitorFailing;
    private bool _monitorChecked;
    // Why the interest read is not this server's (set once per connection, by the /varz check), and why it cannot be read now.
    private string? _otherServer;
    private string? _unreadable;

    /// <param name="settings">The connection's URI settings.</param>
    /// <param name="logger">Where an unreadable monitoring endpoint is reported, once per episode.</param>
    /// <param name="displayUri">The connection's redacted URI, for the log.</param>
    /// <param name="serverId">The id of the server the connection uses, to check that <c>monitor-port</c> is that server's.</param>
    /// <param name="unobserved">Told why the interest cannot be observed (see <see cref="ConnectionRequest.TopologyUnobserved"/>), and null once it can.</param>
    /// <param name="serverName">The <c>server_name</c> of that server, to name it in the log as the other server is named.</param>
    public NatsTopologySource(NatsUriSettings settings, ILogger? logger = null, string displayUri = "", string? serverId = null, Action<string?>? unobserved = null, string? serverName = null)
    {
        _serverName = string.IsNullOrEmpty(serverName) ? serverId : serverName;
        _unobserved = unobserved;
        _settings = settings;
        _logger = logger ?? NullLogger.Instance;
        _displayUri = displayUri;
        _serverId = serverId;
        foreach (var name in settings.Namespaces)
        {
            _exchanges[name] = new ExchangeSpec(name, ExchangeSpec.Types.Topic);
        }

        if (settings.MonitorPort is { } port)
        {
            _http = new HttpClient { BaseAddress = new Uri($"http://{settings.Host}:{port.ToString(CultureInfo.InvariantCulture)}/"), Timeout = TimeSpan.FromSeconds(5) };
        }
    }

    public IDisposable Subscribe(Action<TopologyChange> onChange)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        lock (_lock)
        {
            _subscribers.Add(onChange);
        }

        EnsurePolling();
        return new Unsubscriber(this, onChange);
    }

    public async ValueTask<TopologySnapshot> GetSnapshotAsync(CancellationToken cancellationToken)
    {
        var first = EnsurePolling();
        if (first is not null)
        {
            await first.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        lock (_lock)
        {
            return new TopologySnapshot(_serial, [.. _exchanges.Values], [.. _apiBindings.Union(_polledBindings)]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_poller is not null)
        {
            try
            {
                await _poller.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _http?.Dispose();
        _stop.Dispose();
    }

    /// <summary>Records a change made through the adapter connection.</summary>
    internal void Report(TopologyChangeKind kind, ExchangeSpec? exchange, BindingSpec? binding)
    {
        var changes = new List<TopologyChange>();
        Action<TopologyChange>[] subscribers;
        lock (_lock)
        {
            switch (kind)
            {
                case TopologyChangeKind.ExchangeDeclared when exchange is not null:
                    if (_exchanges.TryAdd(exchange.Name, exchange))
                    {
                        changes.Add(new TopologyChange(++_serial, kind, exchange));
                    }

                    break;
                case TopologyChangeKind.ExchangeDeleted when exchange is not null:
                    if (_exchanges.Remove(exchange.Name))
                    {
                        _apiBindings.RemoveWhere(b => b.Source == exchange.Name);
                        changes.Add(new TopologyChange(++_serial, kind, exchange));
                    }

                    break;
                case TopologyChangeKind.BindingAdded when binding is not null:
                    if (_apiBindings.Add(binding))
                    {
                        changes.Add(new TopologyChange(++_serial, kind, null, binding));
                    }

                    break;
                case TopologyChangeKind.BindingRemoved when binding is not null:
                    if (_apiBindings.Remove(binding))
                    {
                        changes.Add(new TopologyChange(++_serial, kind, null, binding));
                    }

                    break;
                default:
                    break;
            }

            subscribers = [.. _subscribers];
        }

        Notify(subscribers, changes);
    }

    private Task? EnsurePolling()
    {
        if (_http is null)
        {
            return null;
        }

        lock (_lock)
        {
            if (_poller is null)
            {
                _firstPoll = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _poller = Task.Run(PollLoopAsync);
            }

            return _firstPoll!.Task;
        }
    }

    private async Task PollLoopAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await CheckMonitorServerAsync(token).ConfigureAwait(false);
                var subjects = await ReadInterestAsync(token).ConfigureAwait(false);
                Apply(subjects);
                if (_monitorFailing)
                {
                    _monitorFailing = false;
                    NatsTopologyLog.MonitorReadable(_logger, _displayUri, _settings.MonitorPort!.Value);
                    Unobserved(unreadable: null);
                }

                _firstPoll!.TrySetResult();
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException or OperationCanceledException or InvalidOperationException or KeyNotFoundException)
            {
                // Monitoring endpoint unavailable or answered oddly: keep the last known interest and try again. Said once
                // per episode: a wrong monitor-port would otherwise federate nothing while every link shows running.
                if (!_monitorFailing)
                {
                    _monitorFailing = true;
                    var reason = ex is OperationCanceledException ? "no answer within 5 s" : UriRedaction.RedactText(ex.Message);
                    NatsTopologyLog.MonitorUnreadable(_logger, _displayUri, _settings.MonitorPort!.Value, reason);
                    Unobserved($"monitor-port {_settings.MonitorPort!.Value} cannot be read: {reason}");
                }

                _firstPoll!.TrySetResult();
            }

            try
            {
                await Task.Delay(_settings.MonitorInterval, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        _firstPoll?.TrySetResult();
    }

    /// <summary>
    /// Once, when the endpoint first answers: whether <c>/varz</c> names the server this connection uses. Another server's
    /// endpoint (a monitor-port of the wrong server) is only reported, since a server behind a proxy may answer under
    /// another id.
    /// </summary>
    private async Task CheckMonitorServerAsync(CancellationToken token)
    {
        if (_monitorChecked || _serverId is null)
        {
            return;
        }

        using var varz = JsonDocument.Parse(await _http!.GetStringAsync(new Uri("varz", UriKind.Relative), token).ConfigureAwait(false));
        _monitorChecked = true;
        if (varz.RootElement.ValueKind == JsonValueKind.Object
            && varz.RootElement.TryGetProperty("server_id", out var id) && id.ValueKind == JsonValueKind.String
            && id.GetString() is { } monitored && monitored != _serverId)
        {
            var name = varz.RootElement.TryGetProperty("server_name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            NatsTopologyLog.MonitorOfAnotherServer(_logger, _displayUri, _settings.MonitorPort!.Value, name ?? monitored, name is null ? _serverId : _serverName ?? _serverId);
            _otherServer = $"monitor-port {_settings.MonitorPort!.Value} answers for server '{name ?? monitored}', not for the one this connection uses";
            Unobserved(_unreadable);
        }
    }

    /// <summary>Tells the engine what keeps the interest from being observed (another server's endpoint first), or null. Poll loop only.</summary>
    private void Unobserved(string? unreadable)
    {
        _unreadable = unreadable;
        _unobserved?.Invoke(_otherServer ?? _unreadable);
    }

    private async Task<List<(long Cid, string Sid, string Subject)>> ReadInterestAsync(CancellationToken token)
    {
        // The link connections are read before and after the subscriptions: a link connection that opened or closed
        // between the two reads is in one of them, so its subscriptions are never mistaken for local interest.
        var linkConnections = new HashSet<long>();
        await ReadLinkConnectionsAsync(linkConnections, token).ConfigureAwait(false);
        var result = new List<(long, string, string)>();
        using var subsz = JsonDocument.Parse(await _http!.GetStringAsync(new Uri("subsz?subs=1&limit=100000", UriKind.Relative), token).ConfigureAwait(false));
        await ReadLinkConnectionsAsync(linkConnections, token).ConfigureAwait(false);
        if (!subsz.RootElement.TryGetProperty("subscriptions_list", out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return result;
        }

        foreach (var sub in list.EnumerateArray())
        {
            var account = sub.TryGetProperty("account", out var a) ? a.GetString() : null;
            var subject = sub.TryGetProperty("subject", out var s) ? s.GetString() : null;
            var sid = sub.TryGetProperty("sid", out var i) ? i.ToString() : "";
            var cid = sub.TryGetProperty("cid", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt64() : -1;
            if (subject is null || account == "$SYS" || subject.StartsWith('$') || subject.StartsWith("_INBOX.", StringComparison.Ordinal)
                || subject.StartsWith(PresenceSubjectPrefix, StringComparison.Ordinal) || linkConnections.Contains(cid))
            {
                continue;
            }

            result.Add((cid, sid, subject));
        }

        return result;
    }

    /// <summary>Adds to <paramref name="linkConnections"/> the client ids of the connections named <c>Federation link …</c>.</summary>
    private async Task ReadLinkConnectionsAsync(HashSet<long> linkConnections, CancellationToken token)
    {
        using var connz = JsonDocument.Parse(await _http!.GetStringAsync(new Uri("connz?limit=100000", UriKind.Relative), token).ConfigureAwait(false));
        if (!connz.RootElement.TryGetProperty("connections", out var connections) || connections.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        foreach (var connection in connections.EnumerateArray())
        {
            if (connection.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
                && name.GetString()!.StartsWith(LinkConnectionPrefix, StringComparison.Ordinal)
                && connection.TryGetProperty("cid", out var cid))
            {
                linkConnections.Add(cid.GetInt64());
            }
        }
    }

    private void Apply(List<(long Cid, string Sid, string Subject)> subscriptions)
    {
        var bindings = new HashSet<BindingSpec>();
        var exchanges = new List<ExchangeSpec>();
        foreach (var (cid, sid, subject) in subscriptions)
        {
            var destination = $"nats-sub:{cid.ToString(CultureInfo.InvariantCulture)}:{sid}";
            foreach (var (exchange, key) in Interpret(subject))
            {
                bindings.Add(new BindingSpec(exchange, destination, BindingDestinationKind.Queue, key));
            }
        }

        var changes = new List<TopologyChange>();
        Action<TopologyChange>[] subscribers;
        lock (_lock)
        {
            foreach (var binding in bindings)
            {
                if (!_exchanges.ContainsKey(binding.Source))
                {
                    var spec = new ExchangeSpec(binding.Source, ExchangeSpec.Types.Topic);
                    _exchanges[binding.Source] = spec;
                    changes.Add(new TopologyChange(++_serial, TopologyChangeKind.ExchangeDeclared, spec));
                }
            }

            // Additions before removals: when one subscriber replaced another on the same subject between two polls (a
            // client that reconnected, a service restarted), the links see the subject's interest go on without a break.
            // Removals first would unbind upstream and bind again, and core NATS drops what is published in between.
            foreach (var added in bindings.Where(b => !_polledBindings.Contains(b)))
            {
                changes.Add(new TopologyChange(++_serial, TopologyChangeKind.BindingAdded, null, added));
            }

            // A subscription is removed only once two polls in a row have not seen it, so that a successor arriving within
            // about two intervals of its predecessor leaving (a client that reconnected, a service restarted) keeps the
            // upstream subscription without a break. No number of polls makes a removal safe, though: the answer that
            // decides it is older than the UNSUB it leads to, and a subscriber that arrives in between receives messages
            // through the upstream subscription on its way out, then misses what is published until the next poll binds
            // the subject again (the longer the host takes to act on the answer, a busy machine, the wider that window).
            // The cost is one poll interval more before interest that really went away stops being forwarded (the
            // downstream server drops those messages).
            var missed = new HashSet<BindingSpec>();
            foreach (var gone in _polledBindings.Where(b => !bindings.Contains(b)))
            {
                if (_missedOnce.Contains(gone))
                {
                    changes.Add(new TopologyChange(++_serial, TopologyChangeKind.BindingRemoved, null, gone));
                }
                else
                {
                    missed.Add(gone);
                }
            }

            _missedOnce = missed;
            bindings.UnionWith(missed);
            _polledBindings = bindings;
            subscribers = [.. _subscribers];
        }

        Notify(subscribers, changes);
    }

    private IEnumerable<(string Exchange, string Key)> Interpret(string subject)
    {
        if (_settings.Namespaces.Count > 0)
        {
            foreach (var ns in _settings.Namespaces)
            {
                if (NatsSubjectMapping.TryGetBindingKey(ns, subject, out var key))
                {
                    yield return (ns, key);
                }
            }

            yield break;
        }

        var dot = subject.IndexOf('.', StringComparison.Ordinal);
        var first = dot < 0 ? subject : subject[..dot];
        if (first is "*" or ">" || first.Length == 0)
        {
            yield break;
        }

        if (NatsSubjectMapping.TryGetBindingKey(first, subject, out var bindingKey))
        {
            yield return (first, bindingKey);
        }
    }

    private static void Notify(Action<TopologyChange>[] subscribers, List<TopologyChange> changes)
    {
        foreach (var change in changes)
        {
            foreach (var subscriber in subscribers)
            {
                subscriber(change);
            }
        }
    }

    private sealed class Unsubscriber(NatsTopologySource source, Action<TopologyChange> callback) : IDisposable
    {
        public void Dispose()
        {
            lock (source._lock)
            {
                source._subscribers.Remove(callback);
            }
        }
    }
}
