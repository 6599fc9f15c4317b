using System.Text;
using System.Threading.Channels;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Transport;

/// <summary>The adapter's client-side routing against one real nats-server.</summary>
public sealed class NatsAdapterRoutingTests(NatsServerFixture fixture) : IClassFixture<NatsServerFixture>
{
    private readonly string _exchange = "r" + Guid.NewGuid().ToString("N")[..8];

    private async Task<(IBrokerConnection Connection, Channel<Delivery> Received)> BindAsync(string type, params string[] keys)
    {
        var connection = await new NatsTransport().ConnectAsync(new ConnectionRequest($"{fixture.Server.Url}?monitor-port={fixture.Server.MonitorPort}", "routing-test"), CancellationToken.None);
        await connection.DeclareExchangeAsync(new ExchangeSpec(_exchange, type, Durable: false), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("q", Durable: false), CancellationToken.None);
        foreach (var key in keys)
        {
            await connection.BindAsync(new BindingSpec(_exchange, "q", BindingDestinationKind.Queue, key), false, CancellationToken.None);
        }

        var received = Channel.CreateUnbounded<Delivery>();
        await connection.ConsumeAsync("q", new ConsumerOptions(0, AutoAck: true), (d, _) => { received.Writer.TryWrite(d); return ValueTask.CompletedTask; }, CancellationToken.None);
        return (connection, received);
    }

    private static async Task PublishAsync(IBrokerConnection connection, string exchange, params string[] keys)
    {
        await using var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        foreach (var key in keys)
        {
            await publisher.PublishAsync(exchange, key, new MessageProperties { MessageId = key }, Encoding.UTF8.GetBytes(key), CancellationToken.None);
        }
    }

    /// <summary>Reads until <paramref name="marker"/> arrives; returns the routing keys received before it.</summary>
    private static async Task<List<string>> UntilMarkerAsync(Channel<Delivery> received, string marker)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var keys = new List<string>();
        while (true)
        {
            var delivery = await received.Reader.ReadAsync(timeout.Token);
            if (delivery.RoutingKey == marker)
            {
                return keys;
            }

            keys.Add(delivery.RoutingKey);
        }
    }

    [Fact]
    public async Task A_hash_in_the_middle_is_filtered_client_side_with_amqp_semantics()
    {
        var (connection, received) = await BindAsync(ExchangeSpec.Types.Topic, "a.#.c");
        await using var _ = connection;
        await PublishAsync(connection, _exchange, "a.x.d", "a.x.c", "a.c", "a.x.y.c", "b.c", "a.marker.c");
        Assert.Equal(["a.x.c", "a.c", "a.x.y.c"], await UntilMarkerAsync(received, "a.marker.c"));
    }

    [Fact]
    public async Task Overlapping_bindings_on_one_exchange_deliver_each_message_once_to_a_queue()
    {
        var (connection, received) = await BindAsync(ExchangeSpec.Types.Topic, "eu.*", "eu.created", "#");
        await using var _ = connection;
        await PublishAsync(connection, _exchange, "eu.created", "eu.updated", "us.created", "zz.marker");
        Assert.Equal(["eu.created", "eu.updated", "us.created"], await UntilMarkerAsync(received, "zz.marker"));
    }

    [Fact]
    public async Task One_publishers_burst_over_several_bindings_arrives_in_publish_order()
    {
        // Two bindings are two NATS subscriptions; the server sends their messages down one socket in publish order.
        const int Count = 2000;
        var (connection, received) = await BindAsync(ExchangeSpec.Types.Topic, "a", "b");
        await using var _ = connection;
        await using (var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: false), CancellationToken.None))
        {
            for (var i = 0; i < Count; i++)
            {
                await publisher.PublishAsync(_exchange, i % 2 == 0 ? "a" : "b", new MessageProperties { MessageId = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }, ReadOnlyMemory<byte>.Empty, CancellationToken.None);
            }
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var order = new List<int>(Count);
        while (order.Count < Count)
        {
            order.Add(int.Parse((await received.Reader.ReadAsync(timeout.Token)).Properties.MessageId!, System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Equal(Enumerable.Range(0, Count), order);
    }

    [Fact]
    public async Task An_unbound_subscription_that_routes_for_a_newer_overlapping_one_stays_until_that_one_goes()
    {
        // eu.* is subscribed first: it routes the messages that the later # subscription also receives. Unsubscribing it
        // while # stays could lose a message whose # copy was already skipped, so it stays subscribed, unbound.
        var (connection, received) = await BindAsync(ExchangeSpec.Types.Topic, "eu.*", "#");
        await using var _ = connection;
        Assert.Equal([_exchange, $"{_exchange}.>", $"{_exchange}.eu.*"], await ServerSubjectsAsync());

        await connection.UnbindAsync(new BindingSpec(_exchange, "q", BindingDestinationKind.Queue, "eu.*"), false, CancellationToken.None);
        Assert.Equal([_exchange, $"{_exchange}.>", $"{_exchange}.eu.*"], await ServerSubjectsAsync());
        await PublishAsync(connection, _exchange, "eu.created", "us.created", "zz.marker");
        Assert.Equal(["eu.created", "us.created"], await UntilMarkerAsync(received, "zz.marker"));

        // Bound again, it is the same subscription; with # gone nothing shadows it, and unbound once more it goes.
        await connection.BindAsync(new BindingSpec(_exchange, "q", BindingDestinationKind.Queue, "eu.*"), false, CancellationToken.None);
        await connection.UnbindAsync(new BindingSpec(_exchange, "q", BindingDestinationKind.Queue, "#"), false, CancellationToken.None);
        Assert.Equal([$"{_exchange}.eu.*"], await ServerSubjectsAsync());
        await PublishAsync(connection, _exchange, "eu.created", "us.created", "eu.marker");
        Assert.Equal(["eu.created"], await UntilMarkerAsync(received, "eu.marker"));

        await connection.UnbindAsync(new BindingSpec(_exchange, "q", BindingDestinationKind.Queue, "eu.*"), false, CancellationToken.None);
        Assert.Empty(await ServerSubjectsAsync());
    }

    [Fact]
    public async Task A_newer_overlapping_subscription_goes_at_once_when_unbound()
    {
        var (connection, _) = await BindAsync(ExchangeSpec.Types.Topic, "#", "eu.*");
        await using var __ = connection;
        await connection.UnbindAsync(new BindingSpec(_exchange, "q", BindingDestinationKind.Queue, "eu.*"), false, CancellationToken.None);
        Assert.Equal([_exchange, $"{_exchange}.>"], await ServerSubjectsAsync());
    }

    /// <summary>The subjects this test's exchange has subscribed on the server, sorted (the server's own view, /subsz).</summary>
    private async Task<List<string>> ServerSubjectsAsync()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{fixture.Server.MonitorPort}/") };
        using var subsz = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri("subsz?subs=1&limit=100000", UriKind.Relative)));
        var subjects = new List<string>();
        if (subsz.RootElement.TryGetProperty("subscriptions_list", out var list))
        {
            foreach (var sub in list.EnumerateArray())
            {
                var subject = sub.GetProperty("subject").GetString()!;
                if (subject == _exchange || subject.StartsWith(_exchange + ".", StringComparison.Ordinal))
                {
                    subjects.Add(subject);
                }
            }
        }

        subjects.Sort(StringComparer.Ordinal);
        return subjects;
    }

    [Fact]
    public async Task Direct_exchange_routes_only_the_exact_key()
    {
        var (direct, directReceived) = await BindAsync(ExchangeSpec.Types.Direct, "k");
        await using var _ = direct;
        await PublishAsync(direct, _exchange, "other", "k.sub", "k");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.Equal("k", (await directReceived.Reader.ReadAsync(timeout.Token)).RoutingKey);
        Assert.False(directReceived.Reader.TryRead(out var extra), extra?.RoutingKey);
    }

    [Fact]
    public async Task Bindings_through_the_adapter_and_plain_subscriptions_show_up_in_the_topology()
    {
        var (connection, _) = await BindAsync(ExchangeSpec.Types.Topic, "api.*");
        await using var __ = connection;
        var changes = Channel.CreateUnbounded<TopologyChange>();
        using var subscription = connection.Topology!.Subscribe(c => changes.Writer.TryWrite(c));
        var snapshot = await connection.Topology.GetSnapshotAsync(CancellationToken.None);
        Assert.Contains(snapshot.Exchanges, e => e.Name == _exchange);
        Assert.Contains(snapshot.Bindings, b => b.Source == _exchange && b.RoutingKey == "api.*" && b.Destination == "q");
        // The adapter's own SUB is also a real server subscription, seen by /subsz.
        Assert.Contains(snapshot.Bindings, b => b.Source == _exchange && b.RoutingKey == "api.*" && b.Destination.StartsWith("nats-sub:", StringComparison.Ordinal));

        await using var plain = new NATS.Client.Core.NatsConnection(NATS.Client.Core.NatsOpts.Default with { Url = fixture.Server.Url });
        await plain.ConnectAsync();
        var sub = await plain.SubscribeCoreAsync<byte[]>(_exchange + ".plain.>");
        await plain.PingAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        TopologyChange added;
        do
        {
            added = await changes.Reader.ReadAsync(timeout.Token);
        }
        while (added.Binding?.RoutingKey != "plain.#");
        Assert.Equal(TopologyChangeKind.BindingAdded, added.Kind);
        Assert.True(added.Serial > snapshot.Serial);

        await sub.DisposeAsync();
        TopologyChange removed;
        do
        {
            removed = await changes.Reader.ReadAsync(timeout.Token);
        }
        while (removed.Binding?.RoutingKey != "plain.#");
        Assert.Equal(TopologyChangeKind.BindingRemoved, removed.Kind);
        Assert.True(removed.Serial > added.Serial);
    }
}
