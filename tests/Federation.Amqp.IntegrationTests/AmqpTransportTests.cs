using System.Collections;
using System.Text;
using Federation.Core.Transport;
using RabbitMQ.Client;

namespace Federation.Amqp.IntegrationTests;

/// <summary>AMQP-specific behaviour the transport-neutral contract does not cover: URIs, errors, and the exact wire types.</summary>
[Collection(ContractNodeCollection.Name)]
public sealed class AmqpTransportTests(RabbitMqNodeFixture fixture) : IAsyncLifetime
{
    private readonly AmqpTransport transport = new();
    private readonly List<IAsyncDisposable> resources = [];
    private readonly CancellationTokenSource timeout = new(TimeSpan.FromMinutes(1));

    private CancellationToken Ct => timeout.Token;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(resources))
        {
            await resource.DisposeAsync();
        }

        timeout.Dispose();
    }

    [Fact]
    public async Task Connect_ReportsClusterNameVhostAndUriWithoutCredentials()
    {
        var connection = await ConnectAsync(fixture.Node.AmqpUri());

        Assert.Equal(fixture.Node.ClusterName, connection.ClusterName);
        Assert.Equal("/", connection.VirtualHost);
        Assert.Equal(fixture.Node.DisplayUri(), connection.DisplayUri);
        Assert.DoesNotContain("guest", connection.DisplayUri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_WithWrongPassword_ThrowsAuthenticationFailed_WithoutThePassword()
    {
        var error = await Assert.ThrowsAsync<AuthenticationFailedException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(password: "s3cr3t-wrong"), "bad-password"), Ct));

        Assert.DoesNotContain("s3cr3t-wrong", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_ToAPortNobodyListensOn_ThrowsBrokerUnreachable_WithoutThePassword()
    {
        var port = Federation.Testing.Brokers.FreePorts.Next();
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest($"amqp://guest:s3cr3t@127.0.0.1:{port}/?connection_timeout=2000", "unreachable"), Ct));

        Assert.IsNotType<AuthenticationFailedException>(error);
        Assert.DoesNotContain("s3cr3t", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReceivedFrom_GoesOutInTheFederationPluginWireFormat_WithoutClientHeaders()
    {
        var connection = await ConnectAsync(fixture.Node.AmqpUri());
        var queue = $"amqp.wire.{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false, AutoDelete: false), Ct);
        try
        {
            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), Ct);
            resources.Add(publisher);
            var trail = new List<object?>
            {
                new Dictionary<string, object?> { ["uri"] = "amqp://up", ["exchange"] = "x", ["redelivered"] = false, ["cluster-name"] = "up", ["vhost"] = "/" },
            };
            await publisher.PublishAsync(string.Empty, queue, new MessageProperties { Persistent = true, UserId = "guest", Headers = new() { ["x-received-from"] = trail } }, Encoding.UTF8.GetBytes("wire"), Ct);

            // Read it with the plain client, as RabbitMQ's own federation plugin would see it.
            var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{fixture.Node.AmqpPort}/") };
            await using var raw = await factory.CreateConnectionAsync(Ct);
            await using var channel = await raw.CreateChannelAsync(cancellationToken: Ct);
            var message = await channel.BasicGetAsync(queue, autoAck: true, Ct);

            Assert.NotNull(message);
            Assert.Equal(DeliveryModes.Persistent, message.BasicProperties.DeliveryMode);
            Assert.Equal("guest", message.BasicProperties.UserId);
            var headers = message.BasicProperties.Headers!;
            Assert.Equal(["x-received-from"], headers.Keys);
            var entry = Assert.IsType<Dictionary<string, object?>>(Assert.Single(Assert.IsAssignableFrom<IList>(headers["x-received-from"])!));
            Assert.Equal("amqp://up", Encoding.UTF8.GetString(Assert.IsType<byte[]>(entry["uri"])));
            Assert.Equal("up", Encoding.UTF8.GetString(Assert.IsType<byte[]>(entry["cluster-name"])));
            Assert.Equal("/", Encoding.UTF8.GetString(Assert.IsType<byte[]>(entry["vhost"])));
            Assert.Equal("x", Encoding.UTF8.GetString(Assert.IsType<byte[]>(entry["exchange"])));
            Assert.False(Assert.IsType<bool>(entry["redelivered"]));
        }
        finally
        {
            await connection.DeleteQueueAsync(queue, Ct);
        }
    }

    [Fact]
    public async Task CancelledPublishes_AreNotConfirmedAsWritten_AndLeaveLaterConfirmsIntact()
    {
        // RabbitMQ.Client before 7.2.1 (#1900) corrupted its publish sequence numbers when a publish saw a cancelled
        // token; the publisher now passes the caller's token through, so cancellations racing the writer must leave
        // every later confirm correlated with its own message.
        var connection = await ConnectAsync(fixture.Node.AmqpUri());
        var queue = $"amqp.cancel.{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false, AutoDelete: false), Ct);
        try
        {
            var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true, MaxOutstandingConfirms: 8), Ct);
            resources.Add(publisher);
            var confirmed = new List<string>();
            var cancelled = 0;
            var publishes = new List<(string Body, ValueTask Done)>();
            var cancellations = new List<CancellationTokenSource>();
            for (var i = 0; i < 300; i++)
            {
                var body = $"m{i}";
                var cancellation = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                cancellations.Add(cancellation);
                var done = publisher.PublishAsync(string.Empty, queue, new MessageProperties(), Encoding.UTF8.GetBytes(body), cancellation.Token);
                if (i % 3 == 0)
                {
                    await cancellation.CancelAsync();
                }

                publishes.Add((body, done.Preserve()));
            }

            foreach (var (body, done) in publishes)
            {
                try
                {
                    await done;
                    confirmed.Add(body);
                }
                catch (OperationCanceledException)
                {
                    cancelled++;
                }
            }

            cancellations.ForEach(cancellation => cancellation.Dispose());

            // Publishes after the cancellations are all confirmed.
            for (var i = 0; i < 50; i++)
            {
                await publisher.PublishAsync(string.Empty, queue, new MessageProperties(), Encoding.UTF8.GetBytes($"after{i}"), Ct);
            }

            // Window 8: most publishes still wait in the queue when their caller cancels, and those are never written.
            Assert.True(cancelled > 0, "some publishes were cancelled");
            Assert.Equal(300, confirmed.Count + cancelled);
            Assert.Subset(confirmed.ToHashSet(), Enumerable.Range(0, 300).Where(i => i % 3 != 0).Select(i => $"m{i}").ToHashSet());

            var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{fixture.Node.AmqpPort}/") };
            await using var raw = await factory.CreateConnectionAsync(Ct);
            await using var channel = await raw.CreateChannelAsync(cancellationToken: Ct);
            var received = new HashSet<string>();
            while (await channel.BasicGetAsync(queue, autoAck: true, Ct) is { } message)
            {
                Assert.True(received.Add(Encoding.UTF8.GetString(message.Body.Span)), "no message arrives twice");
            }

            // Every confirmed publish arrived; a cancelled one arrives only if it was written before its cancellation.
            Assert.Subset(received, confirmed.Concat(Enumerable.Range(0, 50).Select(i => $"after{i}")).ToHashSet());
            Assert.True(received.Count < 350, "cancelled publishes still queued when their caller cancelled were not written");
        }
        finally
        {
            await connection.DeleteQueueAsync(queue, Ct);
        }
    }

    [Fact]
    public async Task After_a_publish_the_broker_refused_later_publishes_fail_too_and_never_overtake_it()
    {
        // The broker closes the channel on the first publish (404, no such exchange) and discards what follows on it. A later
        // publish must not be written on a fresh channel: it would reach the queue while the refused one before it comes
        // again only after the caller's retry (a reordering and, for a link, a duplicate). The publisher stays failed.
        var connection = await ConnectAsync(fixture.Node.AmqpUri());
        var queue = $"amqp.order.{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false, AutoDelete: false), Ct);
        try
        {
            for (var round = 0; round < 20; round++)
            {
                var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true, MaxOutstandingConfirms: 100), Ct);
                resources.Add(publisher);
                var refused = publisher.PublishAsync($"amqp.missing.{Guid.NewGuid():N}", "k", new MessageProperties(), Encoding.UTF8.GetBytes("refused"), Ct).Preserve();
                var behind = Enumerable.Range(0, 20)
                    .Select(i => publisher.PublishAsync(string.Empty, queue, new MessageProperties(), Encoding.UTF8.GetBytes($"behind-{round}-{i}"), Ct).Preserve())
                    .ToList();

                await Assert.ThrowsAsync<ResourceNotFoundException>(async () => await refused);
                foreach (var publish in behind)
                {
                    await Assert.ThrowsAnyAsync<TransportException>(async () => await publish);
                }

                await Assert.ThrowsAnyAsync<TransportException>(async () =>
                    await publisher.PublishAsync(string.Empty, queue, new MessageProperties(), Encoding.UTF8.GetBytes($"later-{round}"), Ct));

                // Disposing waits for the publisher's last write, so the round trip below follows every frame it sent.
                await publisher.DisposeAsync();
                connection = await ReconnectIfTheClientRaceClosedItAsync(connection);

                // A new publisher works.
                var next = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true, MaxOutstandingConfirms: 100), Ct);
                resources.Add(next);
                await next.PublishAsync(string.Empty, queue, new MessageProperties(), Encoding.UTF8.GetBytes($"after-{round}"), Ct);
            }

            var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{fixture.Node.AmqpPort}/") };
            await using var raw = await factory.CreateConnectionAsync(Ct);
            await using var channel = await raw.CreateChannelAsync(cancellationToken: Ct);
            var received = new List<string>();
            while (await channel.BasicGetAsync(queue, autoAck: true, Ct) is { } message)
            {
                received.Add(Encoding.UTF8.GetString(message.Body.Span));
            }

            Assert.Equal(Enumerable.Range(0, 20).Select(round => $"after-{round}"), received);
        }
        finally
        {
            await connection.DeleteQueueAsync(queue, Ct);
        }
    }

    [Fact]
    public async Task Without_confirms_messages_lost_with_a_refused_user_id_are_counted_when_the_probe_could_not_tell()
    {
        // The probe (AmqpImpersonationProbe) normally keeps such a message from being written. When it cannot tell, the
        // message is written; the broker closes the channel over it and drops what was written behind it. Those writes
        // completed, so the publisher counts them: every message arrives, fails to its caller, or is counted.
        const int Count = 30;
        const int Claiming = 5;
        var user = $"NoImpersonator{Guid.NewGuid():N}"[..22];
        Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "add_user", user, "pw")).ExitCode);
        try
        {
            Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "set_permissions", user, ".*", ".*", ".*")).ExitCode);
            var connection = (AmqpConnection)await ConnectAsync(fixture.Node.AmqpUri(user: user, password: "pw"));
            connection.AssumeImpersonationUnknown();
            var queue = $"amqp.userid.{Guid.NewGuid():N}";
            await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false, AutoDelete: false), Ct);
            var drops = new System.Collections.Concurrent.ConcurrentDictionary<string, long>(StringComparer.Ordinal);
            var publisher = await connection.OpenPublisherAsync(
                new PublisherOptions(Confirms: false) { Dropped = (reason, count, _) => drops.AddOrUpdate(reason, count, (_, n) => n + count) }, Ct);
            resources.Add(publisher);
            var publishes = Enumerable.Range(0, Count)
                .Select(i => publisher.PublishAsync(string.Empty, queue, new MessageProperties { UserId = i == Claiming ? "alice" : null }, Encoding.UTF8.GetBytes($"m{i}"), Ct).Preserve())
                .ToList();
            var failed = 0;
            foreach (var publish in publishes)
            {
                try
                {
                    await publish;
                }
                catch (TransportException)
                {
                    failed++;
                }
            }

            var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{fixture.Node.AmqpPort}/") };
            await using var raw = await factory.CreateConnectionAsync(Ct);
            await using var channel = await raw.CreateChannelAsync(cancellationToken: Ct);
            var received = new List<string>();
            await Poll.UntilAsync(
                async () =>
                {
                    while (await channel.BasicGetAsync(queue, autoAck: true, Ct) is { } message)
                    {
                        received.Add(Encoding.UTF8.GetString(message.Body.Span));
                    }

                    return received.Count + failed + drops.Values.Sum() == Count ? "" : null;
                },
                "every message should arrive, fail to its caller or be counted");

            Assert.Equal(Enumerable.Range(0, Claiming).Select(i => $"m{i}"), received);
            Assert.Equal(1, drops.GetValueOrDefault("downstream_rejected"));
            Assert.Equal(Count - Claiming - failed - 1, drops.GetValueOrDefault("unconfirmed"));
            Assert.Equal(user, connection.NonImpersonatingUser);
            await connection.DeleteQueueAsync(queue, Ct);
        }
        finally
        {
            await fixture.Node.CtlAsync(CancellationToken.None, "delete_user", user);
        }
    }

    [Fact]
    public async Task FailedPassiveDeclare_LeavesTheConnectionUsable()
    {
        var connection = await ConnectAsync(fixture.Node.AmqpUri());

        Assert.False(await connection.ExchangeExistsAsync($"missing.{Guid.NewGuid():N}", Ct));

        Assert.True(await connection.ExchangeExistsAsync("amq.topic", Ct));
        Assert.False(connection.Completion.IsCompleted);
    }

    [Fact]
    public async Task Topology_IsNull_UnlessTheCallerAsksForIt()
    {
        // Upstream link connections do not ask: no event queue is declared for them.
        var connection = await transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(), "no-topology"), Ct);
        resources.Add(connection);
        Assert.Null(connection.Topology);
    }

    [Fact]
    public async Task Topology_IsNull_WhenTheUriSaysTopologyNone()
    {
        var connection = await ConnectAsync(fixture.Node.AmqpUri() + "&topology=none");

        Assert.Null(connection.Topology);
    }

    [Fact]
    public async Task NonDefaultVhost_IsDecodedFromThePath_AndItsTopologyIsObservedThroughTheEventVhost()
    {
        const string VirtualHost = "fed/vh";
        Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "add_vhost", VirtualHost)).ExitCode);
        Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "set_permissions", "-p", VirtualHost, "guest", ".*", ".*", ".*")).ExitCode);
        var connection = await ConnectAsync(fixture.Node.AmqpUri(VirtualHost));
        Assert.Equal(VirtualHost, connection.VirtualHost);
        var topology = connection.Topology!;
        var changes = new System.Collections.Concurrent.ConcurrentQueue<TopologyChange>();
        using var subscription = topology.Subscribe(changes.Enqueue);
        var exchange = $"vh.{Guid.NewGuid():N}";

        await connection.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Fanout, Durable: false), Ct);
        var snapshot = await topology.GetSnapshotAsync(Ct);

        Assert.Contains(snapshot.Exchanges, e => e.Name == exchange);
        var declared = Assert.Single(changes, c => c.Exchange?.Name == exchange);
        Assert.True(declared.Serial <= snapshot.Serial);
        await connection.DeleteExchangeAsync(exchange, Ct);
    }

    [Fact]
    public async Task An_exchange_deleted_and_declared_again_at_once_is_reported_existing_with_its_new_bindings()
    {
        // Black-box find (7 Dec 2026): an application that deletes a federated exchange and declares it again at once left
        // the engine believing it deleted (its links stopped for good, no binding upstream), because the deletion, held
        // until a marker so that it follows its bindings' removals, was numbered after the new declaration.
        var connection = await ConnectAsync(fixture.Node.AmqpUri());
        var topology = connection.Topology!;
        var changes = new System.Collections.Concurrent.ConcurrentQueue<TopologyChange>();
        using var subscription = topology.Subscribe(changes.Enqueue);
        var exchange = $"redeclared.{Guid.NewGuid():N}";
        var queue = $"redeclared.q.{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false, AutoDelete: false), Ct);
        var spec = new ExchangeSpec(exchange, ExchangeSpec.Types.Direct, Durable: false);
        await connection.DeclareExchangeAsync(spec, Ct);
        await connection.BindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, "old"), noWait: false, Ct);

        await connection.DeleteExchangeAsync(exchange, Ct);
        await connection.DeclareExchangeAsync(spec, Ct);
        await connection.BindAsync(new BindingSpec(exchange, queue, BindingDestinationKind.Queue, "new"), noWait: false, Ct);

        bool About(TopologyChange c) => c.Exchange?.Name == exchange || c.Binding?.Source == exchange;
        await Poll.UntilAsync(
            () => Task.FromResult(changes.Any(c => c.Kind == TopologyChangeKind.ExchangeDeleted && About(c))
                && changes.Any(c => c.Kind == TopologyChangeKind.BindingAdded && c.Binding!.RoutingKey == "new" && About(c)) ? "seen" : null),
            "the deletion and the new binding were reported");

        // What a consumer that applies the changes in serial order ends up with.
        var exists = false;
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var change in changes.Where(About).OrderBy(c => c.Serial))
        {
            switch (change.Kind)
            {
                case TopologyChangeKind.ExchangeDeclared:
                    exists = true;
                    break;
                case TopologyChangeKind.ExchangeDeleted:
                    exists = false;
                    keys.Clear();
                    break;
                case TopologyChangeKind.BindingAdded:
                    keys.Add(change.Binding!.RoutingKey);
                    break;
                case TopologyChangeKind.BindingRemoved:
                    keys.Remove(change.Binding!.RoutingKey);
                    break;
            }
        }

        Assert.True(exists, "applied in serial order, the changes leave the exchange deleted: " + string.Join(", ", changes.Where(About).OrderBy(c => c.Serial).Select(c => $"{c.Serial} {c.Kind} {c.Binding?.RoutingKey}")));
        Assert.Equal(["new"], keys);
        await connection.DeleteExchangeAsync(exchange, Ct);
        await connection.DeleteQueueAsync(queue, Ct);
    }

    [Fact]
    public async Task Asking_for_a_lease_another_connection_holds_leaves_no_channel_error_in_the_broker_log()
    {
        // A waiting instance asks at every poll (every 1 to 5 s, for every link). Until 8 Dec 2026 each ask declared the
        // exclusive queue and was refused with 405 RESOURCE_LOCKED, which RabbitMQ logs as a channel error.
        var holder = await ConnectAsync(fixture.Node.AmqpUri());
        var other = await ConnectAsync(fixture.Node.AmqpUri());
        var name = $"federation: lease quiet-{Guid.NewGuid():N}";
        var held = await holder.Leases!.TryAcquireAsync(new LeaseRequest(name, "host-a"), Ct);
        Assert.True(held.Acquired);

        for (var poll = 0; poll < 3; poll++)
        {
            var attempt = await other.Leases!.TryAcquireAsync(new LeaseRequest(name, "host-b"), Ct);
            Assert.False(attempt.Acquired);
            Assert.Equal("host-a", attempt.Holder);
        }

        var marker = $"{name} log-marker";
        var errors = NodeLog.ChannelErrorsNaming(await NodeLog.ThroughMarkerAsync(fixture.Node, marker), name, marker);
        Assert.True(errors.Count == 0, "the asks caused channel errors:\n" + string.Join('\n', errors));

        await held.Lease!.DisposeAsync();
        var taken = await other.Leases!.TryAcquireAsync(new LeaseRequest(name, "host-b"), Ct);
        Assert.True(taken.Acquired, "the lease is taken once its holder lets go");
        await taken.Lease!.DisposeAsync();
    }

    [Fact]
    public async Task A_user_without_read_permission_on_lease_queues_still_holds_leases_unwatched()
    {
        // The README asks only for configure on the lease queues; watching one for its deletion needs read as well.
        var user = $"NoReadUser{Guid.NewGuid():N}"[..18];
        Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "add_user", user, "pw")).ExitCode);
        Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "set_permissions", user, ".*", ".*", "^(?!federation: lease).*")).ExitCode);
        var holder = await transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(user: user, password: "pw"), "amqp-transport-tests"), Ct);
        resources.Add(holder);
        var other = await transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(), "amqp-transport-tests"), Ct);
        resources.Add(other);
        var name = $"federation: lease no-read-{Guid.NewGuid():N}";

        var first = await holder.Leases!.TryAcquireAsync(new LeaseRequest(name, "host-a"), Ct);
        var second = await holder.Leases!.TryAcquireAsync(new LeaseRequest(name + "-2", "host-a"), Ct);

        Assert.True(first.Acquired, "the lease is held without a watch");
        Assert.True(second.Acquired, "a refused watch does not fail later leases either");
        Assert.False(first.Lease!.Lost.IsCompleted);
        Assert.False((await other.Leases!.TryAcquireAsync(new LeaseRequest(name, "host-b"), Ct)).Acquired);
        await first.Lease.DisposeAsync();
        Assert.True((await other.Leases!.TryAcquireAsync(new LeaseRequest(name, "host-b"), Ct)).Acquired);
    }

    [Theory]
    [InlineData(false)] // 404: the lease queue was deleted between its declaration and its watch
    [InlineData(true)] // 405: and another connection declared it again meanwhile
    public async Task A_watch_refused_by_the_broker_loses_that_lease_alone_and_the_other_watches_go_on(bool declaredAgainElsewhere)
    {
        // Many leases on one connection share one watch channel, which the refused consume closes.
        var holder = (AmqpConnection)await ConnectAsync(fixture.Node.AmqpUri());
        var prefix = $"federation: lease watches-{Guid.NewGuid():N}";
        var leases = new List<IBrokerLease>();
        for (var i = 0; i < 20; i++)
        {
            var attempt = await holder.Leases!.TryAcquireAsync(new LeaseRequest($"{prefix} {i}", "host-a"), Ct);
            Assert.True(attempt.Acquired);
            leases.Add(attempt.Lease!);
        }

        var gone = $"{prefix} gone";
        if (declaredAgainElsewhere)
        {
            var other = await ConnectAsync(fixture.Node.AmqpUri());
            await other.DeclareQueueAsync(ExclusiveQueueLeases.QueueFor(new LeaseRequest(gone, "host-b")), Ct);
        }

        // What ExclusiveQueueLeases.TryAcquireAsync does after its declaration: watch the queue; it is gone or not ours.
        var refused = await Assert.ThrowsAnyAsync<TransportException>(async () => await holder.QueueWatches.WatchAsync(gone, Ct));
        Assert.IsType(declaredAgainElsewhere ? typeof(ResourceLockedException) : typeof(ResourceNotFoundException), refused);

        // The other watches still tell a deletion, each its own: an operator deletes one lease queue behind its holder's back.
        await DeleteExclusiveQueueAsync(leases[7].Name);

        await leases[7].Lost.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var lost = leases.Where(l => l.Lost.IsCompleted).Select(l => l.Name).ToList();
        Assert.Equal([leases[7].Name], lost);
        Assert.True(holder.Completion.Status == TaskStatus.WaitingForActivation, "the connection lives on");

        // And a lease taken after it is watched too.
        var later = await holder.Leases!.TryAcquireAsync(new LeaseRequest($"{prefix} later", "host-a"), Ct);
        Assert.True(later.Acquired);
        await DeleteExclusiveQueueAsync(later.Lease!.Name);

        await later.Lease!.Lost.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal([leases[7].Name], leases.Where(l => l.Lost.IsCompleted).Select(l => l.Name));
    }

    [Fact]
    public async Task A_refusal_that_names_the_user_reaches_the_engine_without_the_user_name()
    {
        // RabbitMQ's 403 says "refused for user '<name>'"; link status, health and logs show the error's text.
        var user = $"RefusedUser{Guid.NewGuid():N}"[..20];
        Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "add_user", user, "Pw7%x")).ExitCode);
        Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "set_permissions", user, "^nothing$", ".*", ".*")).ExitCode);
        var connection = await transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(user: user, password: "Pw7%x"), "amqp-transport-tests"), Ct);
        resources.Add(connection);

        var error = await Assert.ThrowsAnyAsync<TransportException>(async () =>
            await connection.DeclareQueueAsync(new QueueSpec($"refused.{Guid.NewGuid():N}", Durable: false), Ct));

        Assert.Contains("403", error.Message, StringComparison.Ordinal);
        Assert.Contains("<redacted>", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(user, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_no_wait_bind_loses_the_connection_without_naming_the_user_or_the_password()
    {
        // A no-wait bind that the broker refuses (403: no read permission on the source exchange) closes the channel with
        // nobody waiting; the connection is declared lost with the broker's text, which names the user.
        var (user, password) = await AddUserAsync("NoWaitUser", read: "^(?!amq\\.topic$).*");
        var connection = await transport.ConnectAsync(new ConnectionRequest(fixture.Node.AmqpUri(user: user, password: password), "amqp-transport-tests"), Ct);
        resources.Add(connection);
        var queue = $"nowait.refused.{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, Durable: false, Exclusive: true), Ct);

        await connection.BindAsync(new BindingSpec("amq.topic", queue, BindingDestinationKind.Queue, "k"), noWait: true, Ct);

        var lost = await Assert.ThrowsAnyAsync<TransportException>(async () => await connection.Completion.WaitAsync(Ct));
        var next = await Assert.ThrowsAnyAsync<TransportException>(async () => await connection.ExchangeExistsAsync("amq.direct", Ct));
        foreach (var error in new[] { lost, next })
        {
            Assert.Contains("403", error.Message, StringComparison.Ordinal); // the broker's reason is still there
            Assert.Contains("<redacted>", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(user, error.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(password, error.ToString(), StringComparison.Ordinal);
        }
    }

    /// <summary>Deletes another connection's exclusive queue as an operator does (AMQP refuses to touch it).</summary>
    private async Task DeleteExclusiveQueueAsync(string queue)
    {
        var deleted = await fixture.Node.CtlAsync(Ct, "delete_queue", queue);
        Assert.True(deleted.ExitCode == 0, deleted.Output);
    }

    /// <summary>A new user on the node, with a password long enough to be redacted wherever it occurs, and the given read permission.</summary>
    private async Task<(string User, string Password)> AddUserAsync(string prefix, string read)
    {
        var user = $"{prefix}{Guid.NewGuid():N}"[..(prefix.Length + 8)];
        var password = $"Pw-{Guid.NewGuid():N}"[..16];
        Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "add_user", user, password)).ExitCode);
        Assert.Equal(0, (await fixture.Node.CtlAsync(Ct, "set_permissions", user, ".*", ".*", read)).ExitCode);
        return (user, password);
    }

    [Fact]
    public async Task DeclareExchange_OfUnknownType_ThrowsExchangeTypeNotSupported_AndAFreshConnectionWorks()
    {
        var connection = await ConnectAsync(fixture.Node.AmqpUri());

        var error = await Assert.ThrowsAsync<ExchangeTypeNotSupportedException>(async () =>
            await connection.DeclareExchangeAsync(new ExchangeSpec($"bad.{Guid.NewGuid():N}", "x-no-such-type", Durable: false), Ct));

        // RabbitMQ 3.x answers with a connection-level 503 COMMAND_INVALID, so the connection may be gone; a new one must work.
        Assert.Contains("exchange type", error.Message, StringComparison.OrdinalIgnoreCase);
        var fresh = await ConnectAsync(fixture.Node.AmqpUri());
        Assert.True(await fresh.ExchangeExistsAsync("amq.direct", Ct));
    }

    /// <summary>
    /// RabbitMQ.Client 7 can write a publish that was already under way after its reply to the broker's
    /// <c>channel.close</c> (rabbitmq/rabbitmq-dotnet-client#1835); the broker then closes the whole connection with
    /// <c>504 CHANNEL_ERROR - expected 'channel.open'</c>. Nothing can be overtaken that way (everything on the connection
    /// fails), but the connection is gone. A round trip after the refused publishes shows it: frames are processed in order,
    /// so a late publish reached the broker before the round trip did.
    /// </summary>
    private async Task<IBrokerConnection> ReconnectIfTheClientRaceClosedItAsync(IBrokerConnection connection)
    {
        try
        {
            await connection.ExchangeExistsAsync("amq.topic", Ct);
            return connection;
        }
        catch (ConnectionLostException lost) when (lost.Message.Contains("expected 'channel.open'", StringComparison.Ordinal))
        {
            return await ConnectAsync(fixture.Node.AmqpUri());
        }
    }

    [Fact]
    public async Task Publish_OfHeadersOverAFrame_FailsAlone_WithoutWritingIt_AndTheConnectionStaysUp()
    {
        var connection = await ConnectAsync(fixture.Node.AmqpUri());
        var queue = $"frame-{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, AutoDelete: false), Ct);
        resources.Add(new AsyncDisposable(() => connection.DeleteQueueAsync(queue, CancellationToken.None)));
        await using var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), Ct);

        var tooLarge = await Assert.ThrowsAsync<MessageTooLargeException>(async () =>
            await publisher.PublishAsync("", queue, HeadersOverAFrame(), "big"u8.ToArray(), Ct));
        await publisher.PublishAsync("", queue, new MessageProperties { MessageId = "after" }, "after"u8.ToArray(), Ct);

        Assert.Equal(0, tooLarge.Index);
        Assert.Contains("frame_max", tooLarge.Message, StringComparison.Ordinal);
        Assert.Equal(["after"], await DrainIdsAsync(queue));
        Assert.Null(((AmqpConnection)connection).ClosedError());
    }

    [Fact]
    public async Task LedgerUnit_WithHeadersOverAFrame_PublishesNothingOfTheUnit_AndTheNextUnitGoesThrough()
    {
        var connection = await ConnectAsync(fixture.Node.AmqpUri());
        var queue = $"frame-{Guid.NewGuid():N}";
        var ledgerName = $"frame-ledger-{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, AutoDelete: false), Ct);
        resources.Add(new AsyncDisposable(() => connection.DeleteQueueAsync(queue, CancellationToken.None)));
        resources.Add(new AsyncDisposable(() => connection.DeleteQueueAsync(ledgerName, CancellationToken.None)));
        await using var ledger = (await connection.OpenLedgerAsync(new LedgerOptions(ledgerName, 1_000_000), Ct))!;
        LedgerMessage Message(string id, MessageProperties? properties = null) =>
            new("", queue, properties ?? new MessageProperties { MessageId = id }, Encoding.UTF8.GetBytes(id));

        // The first message is already in the broker's transaction when the second one is refused: it must be rolled back.
        var tooLarge = await Assert.ThrowsAsync<MessageTooLargeException>(async () =>
            await ledger.PublishAndRecordAsync([Message("first"), Message("big", HeadersOverAFrame()), Message("third")], "record-1"u8.ToArray(), Ct));
        Assert.Equal(1, tooLarge.Index);
        await ledger.PublishAndRecordAsync([Message("first"), Message("third")], "record-2"u8.ToArray(), Ct);

        Assert.Equal(["first", "third"], await DrainIdsAsync(queue));
        var records = await ledger.ReadAsync(Ct);
        Assert.Equal(["record-2"], records.Select(r => Encoding.UTF8.GetString(r.Span)));
        Assert.Null(((AmqpConnection)connection).ClosedError());
    }

    [Fact]
    public async Task LedgerRecord_IsPersistent_ExactlyWhenItsUnitHasAPersistentMessage()
    {
        var connection = await ConnectAsync(fixture.Node.AmqpUri());
        var queue = $"record-mode-{Guid.NewGuid():N}";
        var ledgerName = $"record-mode-ledger-{Guid.NewGuid():N}";
        await connection.DeclareQueueAsync(new QueueSpec(queue, AutoDelete: false), Ct);
        resources.Add(new AsyncDisposable(() => connection.DeleteQueueAsync(queue, CancellationToken.None)));
        resources.Add(new AsyncDisposable(() => connection.DeleteQueueAsync(ledgerName, CancellationToken.None)));
        await using var ledger = (await connection.OpenLedgerAsync(new LedgerOptions(ledgerName, 1_000_000), Ct))!;
        LedgerMessage Message(string id, bool persistent) =>
            new("", queue, new MessageProperties { MessageId = id, Persistent = persistent }, Encoding.UTF8.GetBytes(id));

        // A transient unit's record need not wait for the broker's disk: it would not outlive the messages it records.
        await ledger.PublishAndRecordAsync([Message("t1", false), Message("t2", false)], "transient-unit"u8.ToArray(), Ct);
        await ledger.PublishAndRecordAsync([Message("t3", false), Message("p1", true)], "mixed-unit"u8.ToArray(), Ct);

        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{fixture.Node.AmqpPort}/") };
        await using var client = await factory.CreateConnectionAsync(Ct);
        await using var channel = await client.CreateChannelAsync(cancellationToken: Ct);
        var modes = new Dictionary<string, DeliveryModes>();
        while (await channel.BasicGetAsync(ledgerName, autoAck: true, Ct) is { } got)
        {
            modes[Encoding.UTF8.GetString(got.Body.Span)] = got.BasicProperties.DeliveryMode;
        }

        Assert.Equal(DeliveryModes.Transient, modes["transient-unit"]);
        Assert.Equal(DeliveryModes.Persistent, modes["mixed-unit"]);
    }

    [Fact]
    public async Task LedgerUnit_PartlyRefusedByAFullQueue_IsReportedAsPartlyCommitted_AndARecordAloneGoesThroughPersistent()
    {
        var connection = await ConnectAsync(fixture.Node.AmqpUri());
        var queue = $"reject-publish-{Guid.NewGuid():N}";
        var ledgerName = $"reject-publish-ledger-{Guid.NewGuid():N}";
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal) { ["x-max-length"] = 1, ["x-overflow"] = "reject-publish" };
        await connection.DeclareQueueAsync(new QueueSpec(queue, AutoDelete: false, Arguments: arguments), Ct);
        resources.Add(new AsyncDisposable(() => connection.DeleteQueueAsync(queue, CancellationToken.None)));
        resources.Add(new AsyncDisposable(() => connection.DeleteQueueAsync(ledgerName, CancellationToken.None)));
        await using var ledger = (await connection.OpenLedgerAsync(new LedgerOptions(ledgerName, 1_000_000), Ct))!;
        LedgerMessage Message(string id) => new("", queue, new MessageProperties { MessageId = id, Persistent = true }, Encoding.UTF8.GetBytes(id));

        // RabbitMQ's commit is not atomic across queues: the full queue refuses the second message, the first and the
        // record stay. The link is told so, not that the connection failed or that nothing was published.
        var partial = await Assert.ThrowsAsync<UnitPartlyCommittedException>(async () =>
            await ledger.PublishAndRecordAsync([Message("m1"), Message("m2")], "unit"u8.ToArray(), Ct));
        Assert.Contains("partial tx completion", partial.Message, StringComparison.Ordinal);
        Assert.Null(((AmqpConnection)connection).ClosedError());

        // The revocation goes out on a new channel, and is persistent although it carries no message.
        await ledger.PublishAndRecordAsync([], "revocation"u8.ToArray(), Ct);

        Assert.Equal(["m1"], await DrainIdsAsync(queue));
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{fixture.Node.AmqpPort}/") };
        await using var client = await factory.CreateConnectionAsync(Ct);
        await using var channel = await client.CreateChannelAsync(cancellationToken: Ct);
        var records = new List<(string Body, DeliveryModes Mode)>();
        while (await channel.BasicGetAsync(ledgerName, autoAck: true, Ct) is { } got)
        {
            records.Add((Encoding.UTF8.GetString(got.Body.Span), got.BasicProperties.DeliveryMode));
        }

        Assert.Equal([("unit", DeliveryModes.Persistent), ("revocation", DeliveryModes.Persistent)], records);
    }

    /// <summary>Properties whose content header is over the default frame_max (128 KiB): a header of 200,000 bytes.</summary>
    private static MessageProperties HeadersOverAFrame() =>
        new() { MessageId = "big", Headers = new Dictionary<string, object?> { ["pad"] = new string('p', 200_000) } };

    private async Task<List<string>> DrainIdsAsync(string queue)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{fixture.Node.AmqpPort}/") };
        await using var client = await factory.CreateConnectionAsync(Ct);
        await using var channel = await client.CreateChannelAsync(cancellationToken: Ct);
        var ids = new List<string>();
        while (await channel.BasicGetAsync(queue, autoAck: true, Ct) is { } got)
        {
            ids.Add(got.BasicProperties.MessageId ?? "?");
        }

        return ids;
    }

    private sealed class AsyncDisposable(Func<ValueTask> dispose) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => dispose();
    }

    private async Task<IBrokerConnection> ConnectAsync(string uri)
    {
        var connection = await transport.ConnectAsync(new ConnectionRequest(uri, "amqp-transport-tests", ObserveTopology: true), Ct);
        resources.Add(connection);
        return connection;
    }
}
