using System.Diagnostics.Metrics;
using Federation.Core.Diagnostics;
using Federation.Core.Links;

namespace Federation.Core.Tests.Diagnostics;

/// <summary>
/// The <c>federation.links</c> gauge: telemetry sums the per-state counts its sources report, and the links side names
/// every state, so the gauge never depends on link types.
/// </summary>
public sealed class LinksGaugeTests
{
    [Fact]
    public void The_gauge_sums_every_source_by_state_and_forgets_a_source_once_unregistered()
    {
        using var meters = new PrivateMeterFactory();
        using var telemetry = new FederationTelemetry(meters);
        using var first = telemetry.RegisterLinkCounts(() => [new("running", 2), new("error", 0)]);
        var second = telemetry.RegisterLinkCounts(() => [new("running", 1), new("waiting", 3)]);

        Assert.Equal(new Dictionary<string, long> { ["running"] = 3, ["error"] = 0, ["waiting"] = 3 }, Observe(meters));

        second.Dispose();

        Assert.Equal(new Dictionary<string, long> { ["running"] = 2, ["error"] = 0 }, Observe(meters));
    }

    [Fact]
    public void Link_counts_name_every_state_zero_included_in_declaration_order()
    {
        KeyValuePair<string, int>[] expected = [new("starting", 0), new("running", 2), new("error", 0), new("shutdown", 0), new("waiting", 1)];

        var counts = LinkStateNames.CountEach([Status(LinkState.Running), Status(LinkState.Running), Status(LinkState.Waiting)]);

        Assert.Equal(expected, counts);
    }

    private static LinkStatus Status(LinkState state) =>
        new("id", "x", "x", "up", "/", "memory://up", state, null, null, "policy", DateTimeOffset.UnixEpoch);

    private static Dictionary<string, long> Observe(PrivateMeterFactory meters)
    {
        var observed = new Dictionary<string, long>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meters) && instrument.Name == "federation.links")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "federation.link.state")
                {
                    observed[(string)tag.Value!] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return observed;
    }

    /// <summary>Meters scoped to one test, so that engines in parallel tests never add to what this one observes.</summary>
    private sealed class PrivateMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}
