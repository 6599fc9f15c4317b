using System.Collections.Concurrent;
using System.Text;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// The forwarding of an upstream queue that a rename left behind (event 2033) deletes it only once no consumer holds any
/// of its deliveries. Someone else's consumer on it (an operator's tool) keeps it from counting as empty, on purpose:
/// deleting the queue would lose what that consumer has not acknowledged. Until 6 Dec 2026 nothing said so, and the
/// forwarding opened and closed a consumer ten times a second for as long as the other consumer stayed.
/// </summary>
public sealed class RetiredQueueHeldByAnotherConsumerTests : IAsyncLifetime
{
    private const string OldQueue = "federation: upstream -> D:fed.downstream";

    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static FederationOptions Configuration(string? clusterName = null) =>
        new FederationOptions { ClusterName = clusterName, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", "^fed\\.", upstream: "u");

    [Fact]
    public async Task Another_consumer_on_the_old_queue_is_warned_of_once_and_the_queue_goes_once_it_has_left()
    {
        var engine = await _bed.StartEngineAsync("D", o =>
        {
            Testbed.AddUpstreamsAndPolicies(o, Configuration());
        }, loggerFactory: _logs.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var downstream = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        // An operator's consumer on the link's queue takes one message and never acknowledges it.
        var upstream = await _bed.ConnectAsync("U");
        var held = new ConcurrentQueue<string>();
        var other = await upstream.ConsumeAsync(OldQueue, new ConsumerOptions(Prefetch: 1), (delivery, _) =>
        {
            held.Enqueue(Encoding.UTF8.GetString(delivery.Body.Span));
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        string[] expected = [.. Enumerable.Range(0, 6).Select(i => $"m{i}")];
        foreach (var body in expected)
        {
            await Testbed.PublishAsync(upstream, "upstream", "key", body);
        }

        await Testbed.Eventually(() => held.Count == 1 && downstream.Count == expected.Length - 1, () => $"held {held.Count}, D has {downstream.Count}", TimeSpan.FromSeconds(30));

        // Renamed: the new link forwards the old queue, which cannot count as empty while the other consumer holds a delivery.
        await engine.UpdateAsync(Configuration(clusterName: "D2"), CancellationToken.None);
        await Testbed.Eventually(() => _logs.WithId(2040).Count == 1, () => "warned that another consumer holds the old queue (event 2040)", TimeSpan.FromSeconds(30));
        var warning = _logs.WithId(2040).Single().Message;
        Assert.Contains(OldQueue, warning, StringComparison.Ordinal);
        Assert.Contains("1 consumer(s)", warning, StringComparison.Ordinal);
        Assert.True(_bed.Broker("U").QueueExists("/", OldQueue), "the old queue was deleted under a consumer that holds one of its deliveries");
        Assert.Empty(_logs.WithId(2033));

        // The other consumer leaves, giving its delivery back: the forwarding sends it on and deletes the queue, warning no more.
        await other.DisposeAsync();
        await Testbed.Eventually(() => _logs.WithId(2033).Count == 1, () => "the forwarding finished (event 2033)", TimeSpan.FromSeconds(30));
        Assert.False(_bed.Broker("U").QueueExists("/", OldQueue));
        Assert.Empty(_logs.WithId(1028));
        Assert.Single(_logs.WithId(2040));
        await Testbed.Eventually(
            () => Enumerable.SequenceEqual(downstream.Bodies.Order(StringComparer.Ordinal), expected),
            () => $"D has [{string.Join(",", downstream.Bodies)}]",
            TimeSpan.FromSeconds(30));
    }
}
