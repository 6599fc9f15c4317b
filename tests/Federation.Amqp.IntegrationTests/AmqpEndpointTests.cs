namespace Federation.Amqp.IntegrationTests;

/// <summary>URI parsing (RabbitMQ URI spec plus this transport's query parameters); no broker needed.</summary>
public sealed class AmqpEndpointTests
{
    [Theory]
    [InlineData("amqp://h", "/")]
    [InlineData("amqp://h/", "/")]
    [InlineData("amqp://h/%2f", "/")]
    [InlineData("amqp://h/%2Fprod", "/prod")]
    [InlineData("amqp://h/vh", "vh")]
    [InlineData("amqp://h/a%2Fb", "a/b")]
    public void VirtualHost_IsTheDecodedPath(string uri, string expected) => Assert.Equal(expected, AmqpEndpoint.Parse(uri).VirtualHost);

    [Fact]
    public void Defaults_FollowTheSpecAndThisTransport()
    {
        var plain = AmqpEndpoint.Parse("amqp://h");
        var tls = AmqpEndpoint.Parse("amqps://h");

        Assert.Equal((5672, false, "guest", "guest", TimeSpan.FromSeconds(30), 15672, "http", true, "/"), (plain.Port, plain.Tls, plain.User, plain.Password, plain.Heartbeat, plain.ManagementPort, plain.ManagementScheme, plain.TopologyEnabled, plain.EventVirtualHost));
        Assert.Equal((5671, true, "https"), (tls.Port, tls.Tls, tls.ManagementScheme));
    }

    [Fact]
    public void QueryParameters_AndEscapedCredentials_AreRead_ButNeverDisplayed()
    {
        var endpoint = AmqpEndpoint.Parse("amqp://us%40er:p%3Ass@h:5673/vh?heartbeat=5&connection_timeout=1500&management-port=15673&topology=none&event-vhost=events");

        Assert.Equal(("us@er", "p:ss", 5673, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(1500), 15673, false, "events"), (endpoint.User, endpoint.Password, endpoint.Port, endpoint.Heartbeat, endpoint.ConnectionTimeout, endpoint.ManagementPort, endpoint.TopologyEnabled, endpoint.EventVirtualHost));
        Assert.Equal("amqp://h:5673/vh?heartbeat=5&connection_timeout=1500&management-port=15673&topology=none&event-vhost=events", endpoint.DisplayUri);
    }

    [Theory]
    [InlineData("http://h/")]
    [InlineData("amqp:///vh")]
    [InlineData("amqp://h/a/b")]
    [InlineData("amqp://u:secret@h/?heartbeat=soon")]
    public void MalformedUris_ThrowArgumentException_WithoutCredentials(string uri)
    {
        var error = Assert.Throws<ArgumentException>(() => AmqpEndpoint.Parse(uri));

        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }
}
