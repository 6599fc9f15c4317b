using Federation.Core.Transport;

namespace Federation.Core.Tests.Transport;

/// <summary>
/// The <c>uri</c> of an <c>x-received-from</c> hop is written as the federation plugin writes it: no credentials and no
/// query (a black-box comparison with the plugin found ours carrying the upstream URI's query, such as its management port).
/// </summary>
public sealed class TrailUriTests
{
    [Theory]
    [InlineData("amqp://guest:guest@127.0.0.1:5672/%2F?management-port=15672", "amqp://127.0.0.1:5672/%2F")]
    [InlineData("amqps://user:pw@rabbit.example:5671/prod?cacertfile=/etc/ca.pem&verify=verify_peer", "amqps://rabbit.example:5671/prod")]
    [InlineData("nats://token@127.0.0.1:4222?cluster-name=hub&jetstream=true", "nats://127.0.0.1:4222")]
    [InlineData("amqp://host/vh#frag", "amqp://host/vh")]
    [InlineData("amqp://host:5672/vh", "amqp://host:5672/vh")]
    [InlineData("memory://U/%2F", "memory://U/%2F")]
    public void A_hop_uri_has_no_credentials_and_no_query(string uri, string expected) =>
        Assert.Equal(expected, UriRedaction.ForTrail(uri));

    [Fact]
    public void A_secret_in_the_query_is_gone_with_the_query() =>
        Assert.Equal("amqp://host/vh", UriRedaction.ForTrail("amqp://host/vh?password=s3cr3t&x=1"));
}
