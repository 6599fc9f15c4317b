using Federation.Core.Transport;
using Federation.Nats.Transport;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// <see cref="NatsTransport.PreviewDownstream"/>: what a downstream URI says before any connection, from which the engine
/// lists the links it will run while the server cannot be reached (no server needed).
/// </summary>
public sealed class NatsDownstreamPreviewTests
{
    private readonly NatsTransport _transport = new();

    [Fact]
    public void The_uris_cluster_name_and_namespaces_are_what_a_connection_would_report()
    {
        var preview = _transport.PreviewDownstream("nats://fed:s3cr3t@127.0.0.1:4222?cluster-name=east&namespaces=orders,%20billing%20,&monitor-port=8222");

        Assert.NotNull(preview);
        Assert.Equal("east", preview.ClusterName);
        Assert.Equal("/", preview.VirtualHost);
        Assert.Equal(
            [new ExchangeSpec("orders", ExchangeSpec.Types.Topic), new ExchangeSpec("billing", ExchangeSpec.Types.Topic)],
            preview.Exchanges);
    }

    [Fact]
    public void Without_cluster_name_or_namespaces_the_server_tells_them()
    {
        var preview = _transport.PreviewDownstream("nats://127.0.0.1:4222");

        Assert.NotNull(preview);
        Assert.Null(preview.ClusterName);
        Assert.Empty(preview.Exchanges);
    }

    [Fact]
    public void A_uri_the_transport_refuses_tells_nothing() => Assert.Null(_transport.PreviewDownstream("nats://h:4222?monitor_port=8222"));
}
