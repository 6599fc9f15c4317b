using Federation.Core.Collectives;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Nats.Transport;

namespace Federation.Nats.Tests.Messaging;

/// <summary>
/// A host name that does not resolve (a typo) is named as such: the client's own text, "can not connect uris", read as a
/// server that is down (black-box run, 7 Dec 2026). Names under <c>.invalid</c> never resolve (RFC 2606), so the attempt
/// fails at once and needs no server.
/// </summary>
public sealed class NatsUnresolvableHostTests
{
    private const string Password = "dns-pa55-never-shown";
    private const string Host = "nats-typo.invalid";

    private static string Uri(string scheme) => $"{scheme}://broker:{Password}@{Host}:4222";

    [Fact]
    public async Task The_subject_transport_says_the_host_does_not_resolve_without_the_password()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(Uri("nats") + "?max-reconnect-attempts=0", "dns"), CancellationToken.None));

        Assert.Contains($"host '{Host}' does not resolve", error.Message, StringComparison.Ordinal);
        Assert.Contains("check the host name", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_link_transport_says_the_host_does_not_resolve_without_the_password()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await new NatsTransport().ConnectAsync(new ConnectionRequest(Uri("nats"), "dns"), CancellationToken.None));

        Assert.Contains($"host '{Host}' does not resolve", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broker_instance_whose_collective_does_not_resolve_says_so_in_its_connect_error()
    {
        var registry = new Core.InMemory.Subjects.InMemorySubjectServerRegistry();
        registry.GetOrAdd("dns-fed");
        await using var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://dns-fed", CollectiveUri = Uri("nats"), InstanceName = "london-dns" },
            [new Core.InMemory.Subjects.InMemorySubjectTransport(registry), new NatsSubjectTransport()]);

        await broker.StartAsync(CancellationToken.None);

        Assert.False(broker.IsConnected);
        Assert.Contains($"host '{Host}' does not resolve", broker.ConnectError, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, broker.ConnectError, StringComparison.Ordinal);
    }

    [Fact]
    public void A_socket_error_that_is_not_a_failed_lookup_is_not_described_as_one()
    {
        Assert.Null(NatsHostResolution.Describe(new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused), Host));
        Assert.StartsWith($"host '{Host}' does not resolve now", NatsHostResolution.Describe(new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.TryAgain), Host), StringComparison.Ordinal);
    }
}
