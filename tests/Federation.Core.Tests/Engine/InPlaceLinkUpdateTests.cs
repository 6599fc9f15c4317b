using System.Text;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Reconfigurations that change nothing about how a link moves messages (the policy's name, a new policy resolving to the
/// same upstream, the reconnect schedule, the cleanup mode) are taken over by the running link: no restart, the upstream
/// queue stays, nothing is lost.
/// </summary>
public sealed class InPlaceLinkUpdateTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    private static FederationOptions Options(Action<UpstreamDefinition>? configure = null) =>
        new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }.Upstream("u", "U", u =>
        {
            u.Exchange = "upstream";
            configure?.Invoke(u);
        });

    [Fact]
    public async Task Renaming_the_policy_under_traffic_keeps_the_link_running_and_loses_nothing()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        await using var traffic = await Traffic.StartAsync(await _bed.ConnectAsync("U"));
        await Testbed.Eventually(() => queue.Count >= 20, () => $"{queue.Count} forwarded before the rename");
        var before = engine.GetLinks().Single();
        var upstreamQueues = UpstreamQueues();

        await engine.UpdateAsync(Options().Policy("fed-policy", "^fed\\.", upstream: "u"), CancellationToken.None);

        var after = engine.GetLinks().Single();
        Assert.Equal((before.Id, LinkState.Running, before.Since), (after.Id, after.State, after.Since));
        Assert.Equal("fed-policy", after.Policy);
        Assert.Equal(upstreamQueues, UpstreamQueues());

        // Traffic keeps flowing through the same link, and every message published before, during and after arrives.
        var forwarded = queue.Count;
        await Testbed.Eventually(() => queue.Count >= forwarded + 20, () => $"{queue.Count} forwarded after the rename");
        var sent = await traffic.StopAsync();
        await queue.ExpectAsync([.. Enumerable.Range(0, sent).Select(i => $"m{i}")]);
        Assert.Equal(before.Since, engine.GetLinks().Single().Since);
    }

    [Fact]
    public async Task A_higher_priority_policy_with_the_same_upstream_takes_over_the_running_link()
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync();
        await using var traffic = await Traffic.StartAsync(await _bed.ConnectAsync("U"));
        await Testbed.Eventually(() => queue.Count >= 20, () => $"{queue.Count} forwarded before the new policy");
        var before = engine.GetLinks().Single();

        await engine.UpdateAsync(Options().Policy("fed", "^fed\\.", upstream: "u").Policy("p2", "^fed\\.downstream$", upstream: "u", priority: 5), CancellationToken.None);

        var after = engine.GetLinks().Single();
        Assert.Equal((before.Id, before.Since, "p2"), (after.Id, after.Since, after.Policy));
        var sent = await traffic.StopAsync();
        await queue.ExpectAsync([.. Enumerable.Range(0, sent).Select(i => $"m{i}")]);
    }

    [Fact]
    public async Task A_new_cleanup_mode_applies_without_restart_and_decides_what_the_next_stop_leaves()
    {
        var (engine, _) = await _bed.StartSimpleLinkAsync();
        var before = engine.GetLinks().Single();

        // Before, this restarted the link with the old mode, deleting the queue the operator had just asked to keep.
        await engine.UpdateAsync(Options(u => { u.ResourceCleanupMode = ResourceCleanupMode.Never; u.ReconnectDelaySeconds = 2; }).Policy("fed", "^fed\\.", upstream: "u"), CancellationToken.None);
        Assert.Equal(before.Since, engine.GetLinks().Single().Since);
        var upstreamQueues = UpstreamQueues();
        Assert.NotEmpty(upstreamQueues);

        // Clearing the policy stops the link under the mode it now has: its upstream queue stays.
        await engine.UpdateAsync(Options(u => { u.ResourceCleanupMode = ResourceCleanupMode.Never; u.ReconnectDelaySeconds = 2; }), CancellationToken.None);
        Assert.Empty(engine.GetLinks());
        Assert.Equal(upstreamQueues, UpstreamQueues());
    }

    [Fact]
    public async Task The_queue_federation_keys_change_without_restarting_an_exchange_link()
    {
        // queue and consumer-tag are read for compatibility and ignored by exchange links. Until 7 Dec 2026 a new queue
        // restarted every link of the upstream (a black-box run of FederationHost saw event 2018 for each).
        var (engine, _) = await _bed.StartSimpleLinkAsync();
        var before = engine.GetLinks().Single();

        await engine.UpdateAsync(Options(u => { u.Queue = "orders-queue"; u.ConsumerTag = "orders-tag"; }).Policy("fed", "^fed\\.", upstream: "u"), CancellationToken.None);

        var after = engine.GetLinks().Single();
        Assert.Equal((before.Id, LinkState.Running, before.Since), (after.Id, after.State, after.Since));
    }

    [Fact]
    public async Task A_change_that_moves_messages_differently_still_restarts_the_link()
    {
        var (engine, _) = await _bed.StartSimpleLinkAsync();
        var before = engine.GetLinks().Single();

        await engine.UpdateAsync(Options(u => u.PrefetchCount = 10).Policy("fed-policy", "^fed\\.", upstream: "u"), CancellationToken.None);

        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Running } link] && link.Since > before.Since && link.Policy == "fed-policy",
            () => $"restarted link, have {string.Join(", ", engine.GetLinks())}");
        Assert.Equal(before.Id, engine.GetLinks().Single().Id);
    }

    private IReadOnlyList<string> UpstreamQueues() =>
        [.. _bed.Broker("U").GetQueueNames("/").Where(n => n.StartsWith("federation: ", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    /// <summary>Publishes m0, m1, ... to U's exchange "upstream" with routing key "key", confirmed, until stopped.</summary>
    private sealed class Traffic : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private Task<int>? _loop;

        public static async Task<Traffic> StartAsync(IBrokerConnection upstream)
        {
            var publisher = await upstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
            var traffic = new Traffic();
            traffic._loop = Task.Run(async () =>
            {
                await using var _ = publisher;
                var sent = 0;
                while (!traffic._stop.IsCancellationRequested)
                {
                    await publisher.PublishAsync("upstream", "key", new MessageProperties(), Encoding.UTF8.GetBytes($"m{sent}"), CancellationToken.None);
                    sent++;

                    // A steady stream (about one message a millisecond) rather than a flood the link could not drain.
                    await Task.Delay(1);
                }

                return sent;
            });
            return traffic;
        }

        /// <summary>Stops publishing; returns how many messages were published (and confirmed).</summary>
        public async Task<int> StopAsync()
        {
            await _stop.CancelAsync();
            return await _loop!;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await StopAsync();
            }

            _stop.Dispose();
        }
    }
}
