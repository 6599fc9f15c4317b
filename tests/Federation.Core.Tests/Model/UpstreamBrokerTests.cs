using Federation.Core.Model;

namespace Federation.Core.Tests.Model;

/// <summary>
/// Which URIs reach one broker. Taking two ways of writing one address for two brokers made a reload delete the queue the
/// new link consumes (a "move" to the same broker), so these pairs must read as one broker, and real differences as two.
/// </summary>
public sealed class UpstreamBrokerTests
{
    [Theory]
    [InlineData("amqp://rabbit/%2f", "amqp://rabbit:5672/%2f")]
    [InlineData("amqps://rabbit/", "amqps://rabbit:5671/")]
    [InlineData("nats://hub", "nats://hub:4222")]
    [InlineData("tls://hub", "tls://hub:4222")]
    [InlineData("amqp://127.0.0.1:5673/", "amqp://localhost:5673/")]
    [InlineData("amqp://LOCALHOST:5673/", "amqp://[::1]:5673/")]
    [InlineData("nats://127.0.0.1:4223", "nats://user:pass@localhost:4223?cluster-name=x")]
    [InlineData("amqp://Rabbit.Example/", "amqp://rabbit.example/")]
    [InlineData("amqp://rabbit", "amqp://rabbit/")]
    [InlineData("amqp://rabbit/%2f", "amqp://rabbit/")]
    public void Two_ways_of_writing_one_address_reach_one_broker(string one, string other)
    {
        Assert.NotNull(UpstreamBroker.Of(one));
        Assert.Equal(UpstreamBroker.Of(one), UpstreamBroker.Of(other));
        Assert.True(UpstreamBroker.Shared([one], [other]));
    }

    [Theory]
    [InlineData("amqp://rabbit/", "amqp://rabbit:5671/")]
    [InlineData("amqps://rabbit/", "amqps://rabbit:5672/")]
    [InlineData("amqp://rabbit/", "amqps://rabbit/")]
    [InlineData("nats://hub", "nats://hub:4223")]
    [InlineData("amqp://127.0.0.1:5673/", "amqp://127.0.0.2:5673/")]
    [InlineData("amqp://localhost:5673/", "amqp://localhost:5674/")]
    [InlineData("amqp://rabbit/", "amqp://rabbit/other")]
    [InlineData("amqp://rabbit-a/", "amqp://rabbit-b/")]
    [InlineData("memory://a", "memory://b")]
    public void Different_brokers_stay_apart(string one, string other)
    {
        Assert.NotEqual(UpstreamBroker.Of(one), UpstreamBroker.Of(other));
        Assert.False(UpstreamBroker.Shared([one], [other]));
    }

    [Fact]
    public void A_uri_without_a_port_reads_as_before_the_well_known_ports_were_known()
    {
        // Heartbeats carry hashes of this text: instances of the version before must read the common URI as this one does.
        Assert.Equal("amqp\nrabbit\n\n/", UpstreamBroker.Of("amqp://rabbit/%2f"));
        Assert.Equal("nats\n127.0.0.1\n4223\n/", UpstreamBroker.Of("nats://127.0.0.1:4223"));
    }
}
