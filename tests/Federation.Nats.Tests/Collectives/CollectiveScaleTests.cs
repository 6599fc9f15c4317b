using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
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

    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(15);

    // Requests in flight while an instance stops may lose a message (at-most-once); they give up after this long.
    private static readonly TimeSpan InFlightTimeout = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task ThreeInstances_ShareTheWork_AndRepliesStillCompleteAfterOneStopsMidStream()
    {
        const string Cluster = "newyork_scale";
        const int Warmup = 30;
        const int StreamRequests = 90;
        const int StopAfter = 30;
        const int Concurrency = 6;
        const int AfterStop = 30;
        var instances = new List<FederationBroker>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                instances.Add(await fixture.StartBrokerAsync(Cluster, fixture.Federation, fixture.Collectives["newyork"], $"scale-{i}", ownedByFixture: false));
            }

            var (client, connection) = await fixture.OpenClientAsync(fixture.Federation);
            await using var _ = connection;

            // Every instance takes part: queue groups spread requests and replies over the three.
            for (var i = 0; i < Warmup; i++)
            {
                var warm = await client.RequestAsync(Request(Cluster, $"warmup-{i}", ReplyTimeout), CancellationToken.None);
                Assert.True(warm.Completed, $"warm-up request {i} got {warm.Replies.Count} of 2 replies");
            }

            Assert.All(instances, b => Assert.True(b.Statistics.RequestsReceived > 0 && b.Statistics.RepliesReceived > 0, $"{b.InstanceName}: {b.Statistics}"));
            output.WriteLine($"after warm-up: {string.Join("; ", instances.Select(b => $"{b.InstanceName} {b.Statistics}"))}");

            // Now stop one instance while requests keep flowing.
            var stopped = instances[0];
            Task? stopping = null;
            var outcomes = new ConcurrentBag<(int Index, bool AfterStop, bool Completed, int Replies)>();
            using var gate = new SemaphoreSlim(Concurrency);
            var running = new List<Task>();
            for (var i = 0; i < StreamRequests; i++)
            {
                await gate.WaitAsync();
                if (i == StopAfter)
                {
                    stopping = stopped.StopAsync(CancellationToken.None);
                }

                var index = i;
                var afterStop = stopping is { IsCompletedSuccessfully: true };
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        var result = await client.RequestAsync(Request(Cluster, $"stream-{index}", afterStop ? ReplyTimeout : InFlightTimeout), CancellationToken.None);
                        outcomes.Add((index, afterStop, result.Completed, result.Replies.Count));
                    }
                    finally
                    {
                        gate.Release();
                    }
                }));
            }

            await Task.WhenAll(running);
            await stopping!;
            var lost = outcomes.Where(o => !o.Completed).OrderBy(o => o.Index).ToList();
            output.WriteLine($"stream: {outcomes.Count} requests, {outcomes.Count(o => o.AfterStop)} sent after the stop completed; incomplete: {lost.Count} [{string.Join(", ", lost.Select(o => $"#{o.Index}: {o.Replies}/2"))}]");
            Assert.Equal(StreamRequests, outcomes.Count);
            Assert.All(outcomes.Where(o => o.AfterStop), o => Assert.True(o.Completed, $"request #{o.Index}, sent after the stop, got {o.Replies} of 2 replies"));

            // After the stop, the two survivors carry every request and reply; the stopped instance handles nothing more.
            var stoppedStatistics = stopped.Statistics;
            var survivorsBefore = instances.Skip(1).Select(b => b.Statistics.RequestsReceived).ToList();
            for (var i = 0; i < AfterStop; i++)
            {
                var result = await client.RequestAsync(Request(Cluster, $"after-{i}", ReplyTimeout), CancellationToken.None);
                Assert.True(result.Completed, $"request {i} after the stop got {result.Replies.Count} of 2 replies");
            }

            output.WriteLine($"at the end: {string.Join("; ", instances.Select(b => $"{b.InstanceName} {b.Statistics}"))}");
            Assert.False(stopped.IsConnected);
            Assert.Equal(stoppedStatistics, stopped.Statistics);
            Assert.All(instances.Skip(1).Select((b, i) => b.Statistics.RequestsReceived - survivorsBefore[i]), handled => Assert.True(handled > 0));
        }
        finally
        {
            foreach (var instance in instances)
            {
                await instance.DisposeAsync();
            }
        }
    }

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
        Assert.All(Tokyo(null), m => Assert.Equal("tokyo-broker", m.Tags[InstanceTag]));

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
            [.. measurements.Where(m => (instrument is null || m.Instrument == instrument) && m.Tags.GetValueOrDefault(ClusterTag) == "tokyo")];

        double Count(string instrument, string direction, string side) =>
            Tokyo(instrument).Where(m => m.Tags[DirectionTag] == direction && m.Tags[ConnectedToTag] == side).Sum(m => m.Value);
    }

    private static FederatedRequest Request(string federation, string body, TimeSpan timeout) => new()
    {
        Federations = [federation],
        Targets = [CollectiveNode.Broadcast],
        Body = Encoding.UTF8.GetBytes(body),
        ExpectedReplies = 2,
        Timeout = timeout,
    };
}
