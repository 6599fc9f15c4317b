using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// The public disposables of the collectives: disposing twice is harmless, and a call after disposal fails with an
/// <see cref="ObjectDisposedException"/> that names the public type, not an internal one.
/// </summary>
public sealed class BrokerDisposalTests
{
    [Fact]
    public async Task A_started_broker_can_be_disposed_twice_and_refuses_a_later_start_naming_FederationBroker()
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await testbed.StartBrokerAsync("london", "fed", "london");

        await broker.DisposeAsync();
        await broker.DisposeAsync();
        await broker.StopAsync(CancellationToken.None);

        var error = await Assert.ThrowsAsync<ObjectDisposedException>(() => broker.StartAsync(CancellationToken.None));
        Assert.Equal(typeof(FederationBroker).FullName, error.ObjectName);
        Assert.False(broker.IsConnected);
    }

    [Fact]
    public async Task A_broker_never_started_can_be_disposed_twice_and_refuses_a_later_start_naming_FederationBroker()
    {
        await using var testbed = new CollectivesTestbed();
        var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = "memory://london" },
            [testbed.Transport]);

        await broker.DisposeAsync();
        await broker.DisposeAsync();

        var error = await Assert.ThrowsAsync<ObjectDisposedException>(() => broker.StartAsync(CancellationToken.None));
        Assert.Equal(typeof(FederationBroker).FullName, error.ObjectName);
    }

    [Fact]
    public async Task A_federated_client_can_be_disposed_twice_and_refuses_a_later_request_naming_FederatedClient()
    {
        await using var testbed = new CollectivesTestbed();
        testbed.Registry.GetOrAdd("fed");
        var client = await testbed.ClientAsync("fed");
        var request = new FederatedRequest { Federations = ["london"], Targets = ["london.broadcast.agent.ping"], Timeout = TimeSpan.Zero };
        await client.RequestAsync(request, CancellationToken.None);

        await client.DisposeAsync();
        await client.DisposeAsync();

        var error = await Assert.ThrowsAsync<ObjectDisposedException>(() => client.RequestAsync(request, CancellationToken.None));
        Assert.Equal(typeof(FederatedClient).FullName, error.ObjectName);
    }

    [Fact]
    public async Task An_in_memory_subject_connection_can_be_disposed_twice()
    {
        await using var testbed = new CollectivesTestbed();
        testbed.Registry.GetOrAdd("fed");
        ISubjectConnection connection = await testbed.ConnectAsync("fed");
        var subscription = await connection.SubscribeAsync("a.b", null, (_, _) => ValueTask.CompletedTask, CancellationToken.None);

        await subscription.DisposeAsync();
        await subscription.DisposeAsync();
        await connection.DisposeAsync();
        await connection.DisposeAsync();

        await connection.Completion.WaitAsync(CollectivesTestbed.Deadline);
    }
}
