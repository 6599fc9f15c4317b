using System.Collections.Concurrent;
using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;
using Xunit;
using Xunit.Abstractions;

namespace Federation.Transport.Contracts.Collectives;

/// <summary>
/// The horizontal-scale scenario every subject transport's collective tests run: three instances of one federation
/// broker cluster share the work, one stops while requests stream, and the survivors carry everything after it.
/// One copy, so that the NATS and the RabbitMQ suites prove the same thing.
/// </summary>
public static class CollectiveScaleScenario
{
    /// <summary>The subject every simulated node of the collectives answers on.</summary>
    public const string Broadcast = "mcollective.broadcast.agent.rpcutil";

    /// <summary>How long a request waits for both replies when nothing is stopping.</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(15);

    // Requests in flight while an instance stops may lose a message (at-most-once); they give up after this long.
    private static readonly TimeSpan InFlightTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Starts three instances of <paramref name="cluster"/> with <paramref name="startInstance"/> (given 0, 1, 2), warms
    /// them up until each has handled requests and replies, stops the first mid-stream, and asserts that every request
    /// sent after the stop completed and that only the survivors handle requests from then on.
    /// </summary>
    public static async Task ThreeInstancesShareTheWorkAndSurviveOneStoppingAsync(
        string cluster,
        Func<int, Task<FederationBroker>> startInstance,
        Func<Task<(FederatedClient Client, ISubjectConnection Connection)>> openClient,
        ITestOutputHelper output)
    {
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
                instances.Add(await startInstance(i));
            }

            var (client, connection) = await openClient();
            await using var _ = connection;

            // Every instance takes part: queue groups spread requests and replies over the three.
            for (var i = 0; i < Warmup; i++)
            {
                var warm = await client.RequestAsync(Request(cluster, $"warmup-{i}", ReplyTimeout), CancellationToken.None);
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
                        var result = await client.RequestAsync(Request(cluster, $"stream-{index}", afterStop ? ReplyTimeout : InFlightTimeout), CancellationToken.None);
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
                var result = await client.RequestAsync(Request(cluster, $"after-{i}", ReplyTimeout), CancellationToken.None);
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

    /// <summary>A broadcast request to the nodes of <paramref name="federation"/>, which has two of them.</summary>
    public static FederatedRequest Request(string federation, string body, TimeSpan timeout) => new()
    {
        Federations = [federation],
        Targets = [Broadcast],
        Body = Encoding.UTF8.GetBytes(body),
        ExpectedReplies = 2,
        Timeout = timeout,
    };
}
