using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace Federation.Core.Diagnostics;

/// <summary>
/// The library's one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both named <see cref="SourceName"/>.
/// Enable them with <c>AddMeter(FederationTelemetry.SourceName)</c> and <c>AddSource(FederationTelemetry.SourceName)</c>.
/// </summary>
public sealed partial class FederationTelemetry : IDisposable
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string SourceName = "Federation.Core";

    private static readonly string Version = typeof(FederationTelemetry).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Traces message forwarding: one consumer span per forwarded message, only when a listener samples it.</summary>
    internal static readonly ActivitySource ActivitySource = new(SourceName, Version);

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly List<Func<IEnumerable<Links.LinkStatus>>> _statusSources = [];
    private readonly Lock _statusLock = new();

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>, or on a private meter when none is given.</summary>
    public FederationTelemetry(IMeterFactory? meterFactory = null)
    {
        if (meterFactory is null)
        {
            _meter = new Meter(SourceName, Version);
            _ownsMeter = true;
        }
        else
        {
            _meter = meterFactory.Create(new MeterOptions(SourceName) { Version = Version });
        }

        MessagesForwarded = _meter.CreateCounter<long>("federation.link.messages.forwarded", "{message}",
            "Messages a link republished downstream.");
        MessagesDropped = _meter.CreateCounter<long>("federation.link.messages.dropped", "{message}",
            "Messages a link did not forward; federation.drop.reason is max_hops or cycle (hop rules), or a loss such as slow_consumer or downstream_rejected.");
        LinkRestarts = _meter.CreateCounter<long>("federation.link.restarts", "{restart}",
            "Link (re)start attempts after a failure or a restart request.");
        BindingsPropagated = _meter.CreateCounter<long>("federation.link.bindings.propagated", "{binding}",
            "Binding commands (bind and unbind) a link sent upstream.");
        _meter.CreateObservableGauge("federation.links", ObserveLinkStates, "{link}", "Links by state (federation.link.state).");
    }

    internal Counter<long> MessagesForwarded { get; }
    internal Counter<long> MessagesDropped { get; }
    internal Counter<long> LinkRestarts { get; }
    internal Counter<long> BindingsPropagated { get; }

    /// <summary>Registers a status source for the <c>federation.links</c> gauge.</summary>
    internal IDisposable RegisterStatusSource(Func<IEnumerable<Links.LinkStatus>> source)
    {
        lock (_statusLock)
        {
            _statusSources.Add(source);
        }

        return new Unregister(this, source);
    }

    // One gauge value per state, every state always reported (zero included), indexed by the enum's value.
    private static readonly int LinkStateCount = Enum.GetValues<Links.LinkState>().Length;

    // Per instance (the engine that reports the link, so that several hosts' gauges add up without double counting what
    // one runs and the others wait for), every state always reported.
    private IEnumerable<Measurement<int>> ObserveLinkStates()
    {
        var counts = new Dictionary<string, int[]>(StringComparer.Ordinal);
        lock (_statusLock)
        {
            foreach (var source in _statusSources)
            {
                foreach (var status in source())
                {
                    var instance = status.Instance ?? string.Empty;
                    if (!counts.TryGetValue(instance, out var byState))
                    {
                        counts[instance] = byState = new int[LinkStateCount];
                    }

                    byState[(int)status.State]++;
                }
            }
        }

        if (counts.Count == 0)
        {
            counts[string.Empty] = new int[LinkStateCount];
        }

        foreach (var (instance, byState) in counts)
        {
            for (var i = 0; i < byState.Length; i++)
            {
                var state = new KeyValuePair<string, object?>("federation.link.state", StateName((Links.LinkState)i));
                yield return instance.Length == 0
                    ? new Measurement<int>(byState[i], state)
                    : new Measurement<int>(byState[i], state, new KeyValuePair<string, object?>("federation.instance", instance));
            }
        }
    }

    internal static string StateName(Links.LinkState state) => state switch
    {
        Links.LinkState.Starting => "starting",
        Links.LinkState.Running => "running",
        Links.LinkState.Error => "error",
        Links.LinkState.Waiting => "waiting",
        _ => "shutdown",
    };

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private sealed class Unregister(FederationTelemetry owner, Func<IEnumerable<Links.LinkStatus>> source) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._statusLock)
            {
                owner._statusSources.Remove(source);
            }
        }
    }
}
