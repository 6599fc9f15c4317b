using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Nats.Tests.Security;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// Anyone who may publish on an upstream may send a header block the official client cannot parse. Such a message cannot
/// be carried: it is dropped, counted as <c>unreadable</c>, logged once per loss episode, and everything after it still
/// arrives. (The client ends a subscription whose receive throws; the link used to lose everything after, looking healthy.)
/// </summary>
public sealed class NatsUnreadableHeaderTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    // Each is accepted by nats-server (it checks only the length and the NATS/1.0 prefix) and refused by the client.
    private static readonly string[] UnreadableBlocks =
    [
        "NATS/1.0\r\nnocolonhere\r\n\r\n",
        "NATS/1.0 abc\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "NATS/1.0\r\n: empty-name\r\n\r\n",
        "NATS/1.0\r\nsp ace: in-name\r\n\r\n",
        "NATS/1.0\nA: lf-only\n\n",
    ];

    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await NatsServerProcess.StartAsync("-n", "unreadable-a");
        _downstream = await NatsServerProcess.StartAsync("-n", "unreadable-b");
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
    }

    [Fact]
    public async Task Unreadable_header_blocks_are_dropped_counted_and_logged_once_and_the_link_goes_on()
    {
        using var logs = new CapturingLoggerFactory();
        var options = new FederationOptions { Downstream = { Uri = Uri(_downstream, "B") } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { Uri(_upstream, "A") } };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()], logs);
        await engine.StartAsync(CancellationToken.None);
        await PollAsync(() => engine.GetLinks() is [{ State: LinkState.Running }], () => "a running link");

        await using var subscriber = new NatsConnection(NatsOpts.Default with { Url = _downstream.Url });
        await using var subscription = await subscriber.SubscribeCoreAsync<string>("orders.>");
        await subscriber.PingAsync();
        await using var raw = await RawNatsClient.ConnectAsync(_upstream.Port);
        await PollAsync(
            async () =>
            {
                // Interest reaches the upstream through the downstream's /subsz: probe until a marker crosses.
                await raw.PubAsync("orders.probe", "p");
                await raw.PingAsync();
                return subscription.Msgs.TryRead(out _);
            },
            () => "the link forwarding orders.>");

        for (var i = 0; i < UnreadableBlocks.Length; i++)
        {
            await raw.HpubAsync("orders.bad" + i.ToString(CultureInfo.InvariantCulture), UnreadableBlocks[i], "x");
        }

        // A readable header block after them arrives with its headers: the subscription parses on.
        await raw.HpubAsync("orders.tick0", "NATS/1.0\r\nKeep: me\r\n\r\n", "0");
        for (var i = 1; i < 5; i++)
        {
            await raw.PubAsync("orders.tick" + i.ToString(CultureInfo.InvariantCulture), i.ToString(CultureInfo.InvariantCulture));
        }

        await raw.PingAsync();

        var ticks = new List<NatsMsg<string>>();
        using var timeout = new CancellationTokenSource(Deadline);
        while (ticks.Count < 5)
        {
            var next = await subscription.Msgs.ReadAsync(timeout.Token);
            Assert.False(next.Subject.StartsWith("orders.bad", StringComparison.Ordinal), "an unreadable message was forwarded: " + next.Subject);
            if (next.Subject != "orders.probe")
            {
                ticks.Add(next);
            }
        }

        Assert.Equal(["orders.tick0", "orders.tick1", "orders.tick2", "orders.tick3", "orders.tick4"], ticks.Select(t => t.Subject));
        Assert.Equal("me", ticks[0].Headers?["Keep"].ToString());

        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(UnreadableBlocks.Length, link.DroppedMessages?.GetValueOrDefault("unreadable"));
        Assert.Single(logs.Text.Split(Environment.NewLine), line => line.Contains("lost 1 message(s) (unreadable)", StringComparison.Ordinal));
        await PollAsync(
            () => logs.Text.Contains($"forwards again; {UnreadableBlocks.Length} message(s) were lost", StringComparison.Ordinal),
            () => "the end of the loss episode in the log");
    }

    [Fact]
    public async Task An_unreadable_message_is_reported_once_and_only_to_the_consumers_it_was_meant_for()
    {
        await using var connection = await new NatsTransport().ConnectAsync(new ConnectionRequest(_upstream.Url, "t"), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("meant"), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("other"), CancellationToken.None);
        // Two overlapping subscriptions (orders.> and orders.x): the server sends each its own copy.
        await connection.BindAsync(new BindingSpec("orders", "meant", BindingDestinationKind.Queue, "#"), noWait: false, CancellationToken.None);
        await connection.BindAsync(new BindingSpec("orders", "meant", BindingDestinationKind.Queue, "x"), noWait: false, CancellationToken.None);
        await connection.BindAsync(new BindingSpec("invoices", "other", BindingDestinationKind.Queue, "#"), noWait: false, CancellationToken.None);
        var meant = new List<string>();
        var other = new List<string>();
        var received = 0;
        await using var meantConsumer = await connection.ConsumeAsync(
            "meant",
            new ConsumerOptions(1) { Dropped = (reason, count, _) => { lock (meant) { meant.Add($"{reason}:{count}"); } } },
            (_, _) => { Interlocked.Increment(ref received); return ValueTask.CompletedTask; },
            CancellationToken.None);
        await using var otherConsumer = await connection.ConsumeAsync(
            "other",
            new ConsumerOptions(1) { Dropped = (reason, count, _) => { lock (other) { other.Add($"{reason}:{count}"); } } },
            (_, _) => ValueTask.CompletedTask,
            CancellationToken.None);

        await using var raw = await RawNatsClient.ConnectAsync(_upstream.Port);
        await raw.HpubAsync("orders.x", "NATS/1.0\r\nnocolonhere\r\n\r\n", "bad");
        await raw.PubAsync("orders.x", "good");
        await raw.PingAsync();

        await PollAsync(() => Volatile.Read(ref received) == 1, () => "the readable message after the unreadable one");
        lock (meant)
        {
            Assert.Equal(["unreadable:1"], meant);
        }

        lock (other)
        {
            Assert.Empty(other);
        }

        Assert.False(connection.Completion.IsCompleted);
    }

    [Fact]
    public async Task A_subscription_the_client_ends_fails_the_connection_and_its_consumers()
    {
        await using var connection = await new NatsTransport().ConnectAsync(new ConnectionRequest(_upstream.Url, "t"), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await connection.BindAsync(new BindingSpec("orders", "q", BindingDestinationKind.Queue, "#"), noWait: false, CancellationToken.None);
        await connection.BindAsync(new BindingSpec("invoices", "q", BindingDestinationKind.Queue, "#"), noWait: false, CancellationToken.None);
        await using var consumer = await connection.ConsumeAsync("q", new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, CancellationToken.None);

        // Unbinding on purpose ends a subscription too, and is no failure.
        await connection.UnbindAsync(new BindingSpec("invoices", "q", BindingDestinationKind.Queue, "#"), noWait: false, CancellationToken.None);
        Assert.False(connection.Completion.IsCompleted);

        // The client ends one by itself (as it does when a receive throws): the link must notice, not idle.
        var subscription = Assert.Single(((NatsBrokerConnection)connection).ActiveSubscriptions, s => s.Subject == "orders.>");
        await subscription.UnsubscribeAsync();

        var error = await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(Deadline));
        Assert.Contains("'orders.>'", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ConnectionLostException>(() => consumer.Completion.WaitAsync(Deadline));
    }

    [Fact]
    public async Task Disposing_a_connection_with_subscriptions_completes_it_without_error()
    {
        var connection = await new NatsTransport().ConnectAsync(new ConnectionRequest(_upstream.Url, "t"), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        await connection.BindAsync(new BindingSpec("orders", "q", BindingDestinationKind.Queue, "#"), noWait: false, CancellationToken.None);

        await connection.DisposeAsync();

        await connection.Completion.WaitAsync(Deadline); // throws if a subscription's end was taken for a failure
    }

    private static string Uri(NatsServerProcess server, string cluster) =>
        $"{server.Url}?cluster-name={cluster}&monitor-port={server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders";

    private static Task PollAsync(Func<bool> condition, Func<string> describe) => PollAsync(() => Task.FromResult(condition()), describe);

    private static async Task PollAsync(Func<Task<bool>> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out waiting for " + describe());
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }
}
