using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Federation.Core.Diagnostics;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A message that comes back to the cluster it started from is dropped as a cycle, and the drop is counted with
/// <c>federation.drop.reason</c> = <c>cycle</c> on the link that refused it (not as <c>max_hops</c>).
/// </summary>
public sealed class CycleDropMetricsTests : IAsyncLifetime
{
    // Unique to this test: the listener sees every engine's measurements, and other tests run in parallel.
    private const string Exchange = "fed.cycle-metrics";

    private readonly Testbed _bed = new();
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, long Value, Dictionary<string, string?> Tags)> _measurements = new();

    public CycleDropMetricsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == FederationTelemetry.SourceName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var map = new Dictionary<string, string?>();
            foreach (var tag in tags)
            {
                map[tag.Key] = tag.Value?.ToString();
            }

            if (map.GetValueOrDefault("federation.exchange") == Exchange)
            {
                _measurements.Enqueue((instrument.Name, value, map));
            }
        });
        _listener.Start();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _listener.Dispose();
    }

    [Fact]
    public async Task A_message_back_at_its_origin_cluster_is_dropped_and_counted_as_a_cycle()
    {
        // X and Y federate from each other; max-hops 10 is far from reached, so only the cycle check can stop a message.
        await _bed.StartEngineAsync("X", o => o.Upstream("from-y", "Y", u => u.MaxHops = 10).Policy("fed", "^fed\\.cycle-metrics$", upstream: "from-y"));
        await _bed.StartEngineAsync("Y", o => o.Upstream("from-x", "X", u => u.MaxHops = 10).Policy("fed", "^fed\\.cycle-metrics$", upstream: "from-x"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("X"), Exchange);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("Y"), Exchange);
        var onX = await _bed.BindQueueAsync("X", Exchange, "key");
        var onY = await _bed.BindQueueAsync("Y", Exchange, "key");
        await _bed.WaitForBindingsAsync("X", Exchange, "key", 2);
        await _bed.WaitForBindingsAsync("Y", Exchange, "key", 2);

        // Published on X: Y forwards it once; X's link from Y then sees X in the trail and drops it.
        await Testbed.PublishAsync(await _bed.ConnectAsync("X"), Exchange, "key", "round-trip");
        await onX.ExpectAsync("round-trip");
        await onY.ExpectAsync("round-trip");

        await Testbed.Eventually(() => Dropped("from-y", "cycle") == 1, () => $"cycle drops on X's link from Y: {Dropped("from-y", "cycle")}");
        Assert.Equal(0, Dropped("from-y", "max_hops"));
        Assert.Equal(0, Dropped("from-x", "cycle") + Dropped("from-x", "max_hops"));
        await Testbed.Eventually(() => Sum("federation.link.messages.forwarded", "from-x") == 1, () => "Y's link from X counted its one forward");
    }

    private long Dropped(string upstream, string reason) =>
        _measurements
            .Where(m => m.Instrument == "federation.link.messages.dropped"
                && m.Tags.GetValueOrDefault("federation.upstream") == upstream
                && m.Tags.GetValueOrDefault("federation.drop.reason") == reason)
            .Sum(m => m.Value);

    private long Sum(string instrument, string upstream) =>
        _measurements.Where(m => m.Instrument == instrument && m.Tags.GetValueOrDefault("federation.upstream") == upstream).Sum(m => m.Value);
}
