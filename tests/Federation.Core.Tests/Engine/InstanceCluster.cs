using System.Globalization;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Several engines with the same configuration (one per instance name) sharing <c>links</c> links from U into D over the
/// in-memory transport, on one fake clock. An instance can be crashed (as kill -9: its connections drop, the broker
/// drops its leases), stopped cleanly, and started again under the same name.
/// </summary>
internal sealed class InstanceCluster : IAsyncDisposable
{
    private readonly Testbed _bed = new();
    private readonly Dictionary<string, (FederationEngine Engine, CrashableTransport Transport)> _live = new(StringComparer.Ordinal);
    private readonly List<FederationEngine> _gone = [];
    private readonly int _links;
    private readonly Action<OwnershipOptions>? _ownership;

    /// <param name="links">How many links (federated exchanges) the instances share.</param>
    /// <param name="ownership">Sets the <c>Federation:Ownership</c> timings of every instance; null keeps the defaults.</param>
    public InstanceCluster(int links, Action<OwnershipOptions>? ownership = null)
    {
        _links = links;
        _ownership = ownership;
        _bed.Broker("D");
        _bed.Broker("U");
    }

    public FakeTimeProvider Time { get; } = new();

    public ConsumerCensus Census { get; } = new();

    public Testbed Bed => _bed;

    /// <summary>The instances started and neither crashed nor stopped.</summary>
    public IReadOnlyCollection<string> Live => _live.Keys;

    public static string ExchangeName(int index) => "fed" + index.ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>Declares the federated exchanges on D; every engine's links follow them.</summary>
    public async Task DeclareExchangesAsync()
    {
        var app = await _bed.ConnectAsync("D");
        for (var i = 0; i < _links; i++)
        {
            await Testbed.DeclareExchangeAsync(app, ExchangeName(i));
        }
    }

    /// <summary>Declares the federated exchanges, starts <paramref name="instances"/> in order and waits until the links are spread evenly.</summary>
    public async Task StartSpreadAsync(params string[] instances)
    {
        await DeclareExchangesAsync();
        foreach (var instance in instances)
        {
            await StartAsync(instance);
        }

        await AdvanceUntilAsync(() => Spread(slack: 0), TimeSpan.FromSeconds(60), Describe);
    }

    /// <param name="instance">The instance name.</param>
    /// <param name="pattern">The policy pattern of this instance's configuration: by default every federated exchange.</param>
    /// <param name="upstreamBroker">The broker this instance's upstream names: another than U gives it links that fail.</param>
    /// <param name="loggerFactory">Where the instance logs; null logs nowhere.</param>
    public async Task StartAsync(string instance, string pattern = "^fed", string upstreamBroker = "U", Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        var options = OptionsOf(instance, pattern, upstreamBroker);
        var transport = new CrashableTransport(_bed.Transport, Census, instance);
        var engine = new FederationEngine(options, [transport], loggerFactory, timeProvider: Time);
        _live.Add(instance, (engine, transport));
        await engine.StartAsync(CancellationToken.None);
    }

    /// <summary>A reload of one instance's configuration with another policy pattern (the others keep theirs).</summary>
    public Task ReloadAsync(string instance, string pattern, string upstreamBroker = "U") =>
        _live[instance].Engine.UpdateAsync(OptionsOf(instance, pattern, upstreamBroker), CancellationToken.None);

    private FederationOptions OptionsOf(string instance, string pattern, string upstreamBroker)
    {
        var options = new FederationOptions { InstanceName = instance, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", upstreamBroker, u => u.Exchange = "upstream")
            .Policy("fed", pattern, upstream: "u");
        _ownership?.Invoke(options.Ownership);
        return options;
    }

    /// <summary>As kill -9: every connection of the instance drops at once, and it never comes back under this engine.</summary>
    public async Task CrashAsync(string instance)
    {
        var (engine, transport) = _live[instance];
        _live.Remove(instance);
        transport.Crash();
        _gone.Add(engine);
        await engine.DisposeAsync();
    }

    /// <summary>As a paused process (SIGSTOP): no more heartbeats, while its connections and leases stay.</summary>
    public void Silence(string instance) => _live[instance].Transport.Silence();

    /// <summary>The instance's heartbeats say what they said last, until <see cref="CatchUpHeartbeats"/> (see <see cref="CrashableTransport.LagHeartbeats"/>).</summary>
    public void LagHeartbeats(string instance) => _live[instance].Transport.LagHeartbeats();

    /// <summary>The instance's heartbeats say what they should again.</summary>
    public void CatchUpHeartbeats(string instance) => _live[instance].Transport.CatchUpHeartbeats();

    /// <summary>The links the instance's last heartbeat (as it was, not lagged) said it holds; null before the first, or when it did not say.</summary>
    public IReadOnlySet<string>? HeldAsLastSaid(string instance) => _live[instance].Transport.LastHeartbeat?.Holding;

    /// <summary>Loses the instance's connections to the downstream D (a network blip); it connects again.</summary>
    public void LoseDownstream(string instance) => _live[instance].Transport.LoseConnectionsTo("D");

    /// <summary>Cuts the instance off from <paramref name="broker"/> for new connections, or with null lets it reach it again.</summary>
    public void CutOff(string instance, string? broker) => _live[instance].Transport.Unreachable(broker);

    /// <summary>A clean stop (engine StopAsync).</summary>
    public async Task StopAsync(string instance)
    {
        var (engine, _) = _live[instance];
        _live.Remove(instance);
        _gone.Add(engine);
        await engine.StopAsync(CancellationToken.None);
    }

    /// <summary>Links running, per live instance.</summary>
    public Dictionary<string, int> RunningPerInstance() =>
        _live.ToDictionary(e => e.Key, e => e.Value.Engine.GetLinks().Count(l => l.State == LinkState.Running), StringComparer.Ordinal);

    /// <summary>Which live instance runs each link (links nobody runs are absent).</summary>
    public Dictionary<string, string> Runners()
    {
        var runners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (instance, (engine, _)) in _live)
        {
            // Statuses are read one engine at a time, so a link handed over between two reads may show on both (or
            // neither); whether two ever ran at once is for the consumer census to say.
            foreach (var link in engine.GetLinks().Where(l => l.State == LinkState.Running))
            {
                runners[link.Id] = instance;
            }
        }

        return runners;
    }

    /// <summary>Whether each link runs where <see cref="Federation.Core.Links.Ownership.LinkPlacement"/> puts it over the live instances.</summary>
    public bool Placed()
    {
        var runners = Runners();
        if (runners.Count != _links)
        {
            return false;
        }

        var expected = Federation.Core.Links.Ownership.LinkPlacement.Assign(runners.Keys, [.. _live.Keys]);
        return expected.All(p => runners[p.Key] == p.Value);
    }

    public IReadOnlyList<LinkStatus> LinksOf(string instance) => _live[instance].Engine.GetLinks();

    public FederationEngine EngineOf(string instance) => _live[instance].Engine;

    /// <summary>Whether every link of <paramref name="links"/> runs on some live instance.</summary>
    public bool AllRunning(IEnumerable<string> links)
    {
        var runners = Runners();
        return links.All(runners.ContainsKey);
    }

    /// <summary>Whether every link runs on some live instance.</summary>
    public bool AllRunning() => Runners().Count == _links;

    /// <summary>Whether every live instance runs within <paramref name="slack"/> of an even share, and all links run.</summary>
    public bool Spread(int slack)
    {
        var running = RunningPerInstance();
        var mean = (double)_links / running.Count;
        return running.Values.Sum() == _links && running.Values.All(n => n >= Math.Floor(mean) - slack && n <= Math.Ceiling(mean) + slack);
    }

    public string Describe()
    {
        var running = Runners();
        var notRunning = _live.Values.SelectMany(e => e.Engine.GetLinks()).Where(l => !running.ContainsKey(l.Id)).Take(4)
            .Select(l => $"[{l.Id} on {l.Instance}: {l.State} {l.Error} {l.Waiting} running_on={l.RunningOn} since={l.Since:HH:mm:ss.fff}]");
        return string.Join(", ", RunningPerInstance().OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")) + $" (of {_links}) at {Time.GetUtcNow():HH:mm:ss.fff}; not running: {string.Join(" ", notRunning)}";
    }

    /// <summary>
    /// Moves the fake clock in <paramref name="step"/>s (letting the engines work between steps) until
    /// <paramref name="condition"/> holds; fails if it takes longer than <paramref name="fakeLimit"/> of fake time (or the
    /// real-time deadline). Returns the fake time it took.
    /// </summary>
    public Task<TimeSpan> AdvanceUntilAsync(Func<bool> condition, TimeSpan fakeLimit, Func<string> what, TimeSpan? step = null, TimeSpan? realLimit = null, int pauses = 3)
        => Time.AdvanceUntilAsync(condition, fakeLimit, what, step, realLimit, pauses);

    /// <summary>
    /// As <see cref="AdvanceUntilAsync"/>, but the clock never gets more than two heartbeat intervals ahead of the last
    /// heartbeat of each live instance: it waits (in real time) for the next one. Moved at a fixed real pace, the clock ran
    /// ahead of a loaded engine's heartbeats, and the others took that instance for gone after the presence timeout (three
    /// intervals) while it still ran its links: a state a real clock, which moves while heartbeats flow, does not show.
    /// Should no heartbeat come within <paramref name="patience"/> (5 s unless given; its delay may have started late, on a
    /// clock moved meanwhile), the clock moves on all the same, so that this never waits for good.
    /// </summary>
    public async Task<TimeSpan> AdvanceWhileHeardAsync(Func<bool> condition, TimeSpan fakeLimit, Func<string> what, TimeSpan step, TimeSpan? patience = null)
    {
        var options = new OwnershipOptions();
        _ownership?.Invoke(options);
        var ahead = options.HeartbeatInterval * 2;
        var started = Time.GetUtcNow();
        var realDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        var heard = _live.ToDictionary(e => e.Key, e => (Beats: e.Value.Transport.HeartbeatsSent, At: started), StringComparer.Ordinal);
        while (true)
        {
            for (var i = 0; i < 3; i++)
            {
                await Task.Delay(Testbed.PollInterval);
                if (condition())
                {
                    return Time.GetUtcNow() - started;
                }
            }

            var elapsed = Time.GetUtcNow() - started;
            Xunit.Assert.True(elapsed <= fakeLimit, $"Not within {fakeLimit.TotalSeconds} s (fake): {what()}");
            Xunit.Assert.True(DateTime.UtcNow < realDeadline, $"Timed out (real time) after {elapsed.TotalSeconds} s fake: {what()}");

            var waitedSince = DateTime.UtcNow;
            foreach (var instance in heard.Keys.Where(_live.ContainsKey).ToList())
            {
                var transport = _live[instance].Transport;
                while (transport.HeartbeatsSent == heard[instance].Beats && Time.GetUtcNow() + step - heard[instance].At > ahead
                       && DateTime.UtcNow - waitedSince < (patience ?? TimeSpan.FromSeconds(5)))
                {
                    await Task.Delay(Testbed.PollInterval);
                }

                if (transport.HeartbeatsSent is var beats && beats != heard[instance].Beats)
                {
                    heard[instance] = (beats, Time.GetUtcNow());
                }
            }

            Time.Advance(step);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (engine, _) in _live.Values)
        {
            await engine.DisposeAsync();
        }

        foreach (var engine in _gone)
        {
            await engine.DisposeAsync();
        }

        await _bed.DisposeAsync();
    }
}
