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
    private readonly List<LinkCountSource> _linkCountSources = [];
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
            "Messages a link did not forward; federation.drop.reason is max_hops or cycle (hop rules), duplicate (already forwarded, found by duplicate suppression), or a loss such as slow_consumer, downstream_rejected or unreadable.");
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

    /// <summary>
    /// Registers a source of link counts for the <c>federation.links</c> gauge: pairs of state name (the value of
    /// <c>federation.link.state</c>) and number of links in that state, reported by the instance <paramref name="instance"/>
    /// names (the <c>federation.instance</c> attribute; none when it returns null). The gauge sums the counts of every source
    /// by instance and state name, in the order they first appear. A source reports every state it knows, zero included, so
    /// that a state whose last link left drops to 0 instead of vanishing from the series. Per instance, because each of several
    /// hosts reports every link (the ones it runs and the ones it waits for): summing them without the instance would count
    /// a link once per host. The counts come from whoever runs the links: telemetry knows no link type.
    /// </summary>
    internal IDisposable RegisterLinkCounts(Func<IEnumerable<KeyValuePair<string, int>>> source, Func<string?>? instance = null)
    {
        var registered = new LinkCountSource(source, instance);
        lock (_statusLock)
        {
            _linkCountSources.Add(registered);
        }

        return new Unregister(this, registered);
    }

    private IEnumerable<Measurement<int>> ObserveLinkStates()
    {
        var counts = new Dictionary<(string Instance, string State), int>();
        var order = new List<(string Instance, string State)>();
        lock (_statusLock)
        {
            foreach (var source in _linkCountSources)
            {
                var instance = source.Instance?.Invoke() ?? string.Empty;
                foreach (var (state, count) in source.Counts())
                {
                    var key = (instance, state);
                    if (counts.TryGetValue(key, out var sum))
                    {
                        counts[key] = sum + count;
                    }
                    else
                    {
                        counts[key] = count;
                        order.Add(key);
                    }
                }
            }
        }

        foreach (var key in order)
        {
            var state = new KeyValuePair<string, object?>("federation.link.state", key.State);
            yield return key.Instance.Length == 0
                ? new Measurement<int>(counts[key], state)
                : new Measurement<int>(counts[key], state, new KeyValuePair<string, object?>("federation.instance", key.Instance));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private sealed record LinkCountSource(Func<IEnumerable<KeyValuePair<string, int>>> Counts, Func<string?>? Instance);

    private sealed class Unregister(FederationTelemetry owner, LinkCountSource source) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._statusLock)
            {
                owner._linkCountSources.Remove(source);
            }
        }
    }
}
