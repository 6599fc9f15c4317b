using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Transport.Contracts.Collectives;
using Xunit.Abstractions;

namespace Federation.Nats.Tests.Collectives;

/// <summary>Horizontal scale and metrics of federation brokers over real nats-servers.</summary>
[Collection(CollectivesCollection.Name)]
public sealed class CollectiveScaleTests(CollectivesFixture fixture, ITestOutputHelper output)
{
    // The instrument and tag names are part of the documented metrics (the example exports them), so they are spelled out here.
    private const string ReceivedName = "federation.broker.messages.received";
    private const string PublishedName = "federation.broker.messages.published";
    private const string ErrorsName = "federation.broker.errors";
    private const string DurationName = "federation.broker.processing.duration";
    private const string ClusterTag = "federation.broker.cluster";
    private const string DirectionTag = "federation.broker.direction";
    private const string InstanceTag = "federation.broker.instance";
    private const string ConnectedToTag = "federation.broker.connected_to";
    private const string ErrorTypeTag = "error.type";

    // The listener hears every broker in the process: tests of other collections run in parallel, and ChoriaWireTests
    // has a cluster named tokyo too, so only the fixture's instance counts.
    private const string TokyoInstance = "tokyo-broker";

    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(15);

    [Fact]
    public Task ThreeInstances_ShareTheWork_AndRepliesStillCompleteAfterOneStopsMidStream() =>
        CollectiveScaleScenario.ThreeInstancesShareTheWorkAndSurviveOneStoppingAsync(
            "newyork_scale",
            i => fixture.StartBrokerAsync("newyork_scale", fixture.Federation, fixture.Collectives["newyork"], $"scale-{i}", ownedByFixture: false),
            () => fixture.OpenClientAsync(fixture.Federation),
            output);

    [Fact]
    public async Task Metrics_CountReceivedPublishedAndErrors_AndTimeProcessing_PerClusterInstanceDirectionAndSide()
    {
        var measurements = new ConcurrentQueue<(string Instrument, double Value, Dictionary<string, string?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FederationTelemetry.SourceName && instrument.Name.StartsWith("federation.broker.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.Start();
        var (client, connection) = await fixture.OpenClientAsync(fixture.Federation);
        await using var _ = connection;

        // An escape attempt first, then a good request: the broker handles them in order, so the good replies prove both done.
        var refused = await client.RequestAsync(
            new FederatedRequest { Federations = ["tokyo"], Targets = ["choria.federation.london.federation"], Body = Encoding.UTF8.GetBytes("escape"), ExpectedReplies = 0, Timeout = TimeSpan.Zero },
            CancellationToken.None);
        var good = await client.RequestAsync(Request("tokyo", "metrics", ReplyTimeout), CancellationToken.None);

        Assert.Empty(refused.Replies);
        Assert.True(good.Completed);
        await Eventually.TrueAsync(() => Count(PublishedName, "reply", "federation") == 2, "both replies counted");
        Assert.Equal(2, Count(ReceivedName, "request", "federation"));
        Assert.Equal(1, Count(PublishedName, "request", "collective"));
        Assert.Equal(2, Count(ReceivedName, "reply", "collective"));
        var error = Assert.Single(Tokyo(ErrorsName));
        Assert.Equal("request", error.Tags[DirectionTag]);
        Assert.Equal("federation", error.Tags[ConnectedToTag]);
        Assert.Equal("target_rejected", error.Tags[ErrorTypeTag]);
        var durations = Tokyo(DurationName);
        Assert.Equal(4, durations.Count);
        Assert.All(durations, d => Assert.InRange(d.Value, 0, ReplyTimeout.TotalSeconds));

        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value?.ToString();
            }

            measurements.Enqueue((instrument.Name, value, copy));
        }

        List<(string Instrument, double Value, Dictionary<string, string?> Tags)> Tokyo(string? instrument) =>
            [.. measurements.Where(m => (instrument is null || m.Instrument == instrument) && m.Tags.GetValueOrDefault(ClusterTag) == "tokyo" && m.Tags.GetValueOrDefault(InstanceTag) == TokyoInstance)];

        double Count(string instrument, string direction, string side) =>
            Tokyo(instrument).Where(m => m.Tags[DirectionTag] == direction && m.Tags[ConnectedToTag] == side).Sum(m => m.Value);
    }

    private static FederatedRequest Request(string federation, string body, TimeSpan timeout) =>
        CollectiveScaleScenario.Request(federation, body, timeout);
}
