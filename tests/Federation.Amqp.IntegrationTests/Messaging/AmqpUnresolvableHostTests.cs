using Federation.Amqp.Messaging;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;

namespace Federation.Amqp.IntegrationTests.Messaging;

/// <summary>
/// A host name that does not resolve (a typo) is named as such: RabbitMQ.Client's "None of the specified endpoints were
/// reachable" around "Name or service not known" named no host. Names under <c>.invalid</c> never resolve (RFC 2606), so
/// the attempt fails at once and needs no broker.
/// </summary>
public sealed class AmqpUnresolvableHostTests
{
    private const string Password = "dns-pa55-never-shown";
    private const string Host = "rabbit-typo.invalid";

    private static string Uri() => $"amqp://broker:{Password}@{Host}:5672/%2f";

    [Fact]
    public async Task The_subject_transport_says_the_host_does_not_resolve_without_the_password()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await new AmqpSubjectTransport().ConnectAsync(new SubjectConnectionRequest(Uri(), "dns"), CancellationToken.None));

        Assert.Contains($"host '{Host}' does not resolve", error.Message, StringComparison.Ordinal);
        Assert.Contains("check the host name", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_link_transport_says_the_host_does_not_resolve_without_the_password()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await new AmqpTransport().ConnectAsync(new ConnectionRequest(Uri(), "dns"), CancellationToken.None));

        Assert.Contains($"host '{Host}' does not resolve", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }
}
