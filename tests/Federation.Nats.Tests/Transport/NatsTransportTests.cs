using Federation.Core.Hosting;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using Microsoft.Extensions.DependencyInjection;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Transport;

public sealed class NatsTransportTests
{
    [Fact]
    public void AddNatsTransport_registers_the_transport_for_nats_and_tls()
    {
        var services = new ServiceCollection();
        services.AddFederation().AddNatsTransport();
        // A factory registration (it carries the NatsOpts callback) that builds one NatsTransport.
        var registered = Assert.Single(services, d => d.ServiceType == typeof(ITransport) && d.ImplementationFactory is not null);
        Assert.IsType<NatsTransport>(registered.ImplementationFactory!(NoServices.Instance));
        Assert.Equal(["nats", "tls"], new NatsTransport().Schemes);
    }

    [Fact]
    public async Task Connection_identity_comes_from_the_uri_or_the_server_name()
    {
        await using var server = await NatsServerProcess.StartAsync("-n", "named-server");
        var transport = new NatsTransport();
        await using var named = await transport.ConnectAsync(new ConnectionRequest($"{server.Url}?cluster-name=east", "t"), CancellationToken.None);
        await using var plain = await transport.ConnectAsync(new ConnectionRequest($"nats://user:secret@127.0.0.1:{server.Port}", "t"), CancellationToken.None);
        Assert.Equal("east", named.ClusterName);
        Assert.Equal("named-server", plain.ClusterName);
        Assert.Equal("/", plain.VirtualHost);
        Assert.DoesNotContain("secret", plain.DisplayUri, StringComparison.Ordinal);
        Assert.False(await plain.ExchangeExistsAsync("orders", CancellationToken.None));
        await Assert.ThrowsAsync<ExchangeTypeNotSupportedException>(async () => await plain.DeclareExchangeAsync(new ExchangeSpec("h", ExchangeSpec.Types.Headers), CancellationToken.None));
        await Assert.ThrowsAsync<ResourceNotFoundException>(async () => await plain.ConsumeAsync("missing", new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, CancellationToken.None));
    }

    [Fact]
    public async Task A_server_without_a_name_is_known_by_the_uri_endpoint_which_a_restart_keeps()
    {
        // Without -n, nats-server reports its server_id as server_name, and a restart gives it a new one.
        await using var server = await NatsServerProcess.StartAsync();
        var transport = new NatsTransport();
        string before;
        await using (var connection = await transport.ConnectAsync(new ConnectionRequest($"nats://user:secret@127.0.0.1:{server.Port}", "t"), CancellationToken.None))
        {
            before = connection.ClusterName!;
        }

        await server.RestartAsync();
        await using var again = await transport.ConnectAsync(new ConnectionRequest($"nats://user:secret@127.0.0.1:{server.Port}", "t"), CancellationToken.None);
        Assert.Equal($"127.0.0.1:{server.Port}", before);
        Assert.Equal(before, again.ClusterName);
    }

    [Fact]
    public async Task Every_node_of_a_cluster_gives_the_cluster_name_not_its_own()
    {
        int routeA = FreePorts.Next(), routeB = FreePorts.Next();
        await using var a = await NatsServerProcess.StartAsync("-n", "node-a", "--cluster_name", "c1", "--cluster", $"nats://127.0.0.1:{routeA}", "--routes", $"nats://127.0.0.1:{routeB}");
        await using var b = await NatsServerProcess.StartAsync("-n", "node-b", "--cluster_name", "c1", "--cluster", $"nats://127.0.0.1:{routeB}", "--routes", $"nats://127.0.0.1:{routeA}");
        var transport = new NatsTransport();
        await using var onA = await transport.ConnectAsync(new ConnectionRequest(a.Url, "t"), CancellationToken.None);
        await using var onB = await transport.ConnectAsync(new ConnectionRequest(b.Url, "t"), CancellationToken.None);
        Assert.Equal("c1", onA.ClusterName);
        Assert.Equal("c1", onB.ClusterName);
    }

    [Fact]
    public async Task Unreachable_server_fails_with_BrokerUnreachableException()
    {
        await using var server = await NatsServerProcess.StartAsync();
        var url = server.Url;
        await server.StopAsync();
        await Assert.ThrowsAsync<BrokerUnreachableException>(async () => await new NatsTransport().ConnectAsync(new ConnectionRequest(url, "t"), CancellationToken.None));
    }

    [Fact]
    public async Task A_lost_server_faults_Completion_and_later_calls_fail()
    {
        await using var server = await NatsServerProcess.StartAsync();
        await using var connection = await new NatsTransport().ConnectAsync(new ConnectionRequest(server.Url, "t"), CancellationToken.None);
        await connection.DeclareQueueAsync(new QueueSpec("q"), CancellationToken.None);
        var consumer = await connection.ConsumeAsync("q", new ConsumerOptions(1), (_, _) => ValueTask.CompletedTask, CancellationToken.None);
        await using var publisher = await connection.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);

        // Confirmed publishes of one write share one PONG; above max_payload the server would refuse it: a nack.
        var first = publisher.PublishAsync("x", "a", new MessageProperties(), new byte[] { 1 }, CancellationToken.None).AsTask();
        var second = publisher.PublishAsync("x", "b", new MessageProperties(), new byte[] { 2 }, CancellationToken.None).AsTask();
        await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(20));
        await Assert.ThrowsAsync<MessageRefusedException>(async () => await publisher.PublishAsync("x", "a", new MessageProperties(), new byte[2 * 1024 * 1024], CancellationToken.None));

        await server.StopAsync();

        await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(TimeSpan.FromSeconds(20)));
        await Assert.ThrowsAsync<ConnectionLostException>(() => consumer.Completion.WaitAsync(TimeSpan.FromSeconds(20)));
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await connection.DeclareQueueAsync(new QueueSpec("q2"), CancellationToken.None));
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await publisher.PublishAsync("x", "a", new MessageProperties(), new byte[] { 3 }, CancellationToken.None));
        await consumer.DisposeAsync();
    }
}
