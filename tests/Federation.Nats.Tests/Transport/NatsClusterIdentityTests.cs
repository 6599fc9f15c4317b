using Federation.Nats.Transport;
using NATS.Client.Core;
using Source = Federation.Nats.Transport.NatsClusterIdentity.Source;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// The cluster name a NATS connection advertises must survive a server restart and be the same on every node of one
/// cluster: link ids, leases and upstream queue names derive from it (a server without <c>-n</c> reports its
/// <c>server_id</c>, new at every start, as <c>server_name</c>).
/// </summary>
public sealed class NatsClusterIdentityTests
{
    private const string Url = "nats://user:secret@Nats.Example:4223";
    private const string Id = "NCXJ6V5UHVQ6HG2YQIXHMR3SDJ7ABO6MQQWXN7EDJ3IFO4WXHRMJ2GMB";

    [Fact]
    public void The_uri_cluster_name_comes_first()
    {
        Assert.Equal(("eu-west", Source.Configured), NatsClusterIdentity.Of("eu-west", Info(name: "n1", cluster: "c1"), Url));
    }

    [Fact]
    public void A_configured_server_cluster_name_is_shared_by_all_nodes()
    {
        Assert.Equal(("c1", Source.ServerCluster), NatsClusterIdentity.Of(null, Info(name: "node-a", cluster: "c1"), Url));
        Assert.Equal(("c1", Source.ServerCluster), NatsClusterIdentity.Of(null, Info(name: "node-b", cluster: "c1"), Url));
    }

    [Fact]
    public void A_configured_server_name_is_used_on_a_standalone_server()
    {
        Assert.Equal(("down-1", Source.ServerName), NatsClusterIdentity.Of(null, Info(name: "down-1"), Url));
    }

    [Fact]
    public void A_server_id_reported_as_its_name_is_never_used()
    {
        Assert.Equal(("nats.example:4223", Source.Endpoint), NatsClusterIdentity.Of(null, Info(name: Id), Url));
        Assert.Equal(("nats.example:4223", Source.Endpoint), NatsClusterIdentity.Of(null, Info(name: ""), Url));
        Assert.Equal(("nats.example:4223", Source.Endpoint), NatsClusterIdentity.Of(null, null, Url));
    }

    [Fact]
    public void In_a_cluster_with_a_made_up_name_neither_that_name_nor_a_node_name_is_used()
    {
        // The random name changes when the cluster restarts, and a node's own name changes with a failover.
        Assert.Equal(("nats.example:4223", Source.Endpoint), NatsClusterIdentity.Of(null, Info(name: "node-a", cluster: "dzX4sFqYZ1XZb2Q2Xu4m3T", dynamic: true), Url));
    }

    [Theory]
    [InlineData("nats://127.0.0.1:4222", "127.0.0.1:4222")]
    [InlineData("nats://localhost", "localhost:4222")]
    [InlineData("tls://token@nats.internal:7422", "nats.internal:7422")]
    [InlineData("nats://[::1]:4222", "[::1]:4222")]
    public void The_endpoint_name_is_host_and_port_without_credentials(string url, string expected)
    {
        Assert.Equal(expected, NatsClusterIdentity.Endpoint(url));
    }

    private static FakeServerInfo Info(string name, string? cluster = null, bool dynamic = false) =>
        new() { Id = Id, Name = name, Cluster = cluster, ClusterDynamic = dynamic };

    /// <summary>The INFO fields the derivation reads; the rest as a plain standalone server sends them.</summary>
    private sealed class FakeServerInfo : INatsServerInfo
    {
        public string Id { get; init; } = "";

        public string Name { get; init; } = "";

        public string? Cluster { get; init; }

        public bool ClusterDynamic { get; init; }

        public string Version => "2.9.10";

        public long ProtocolVersion => 1;

        public string GitCommit => "";

        public string GoVersion => "";

        public string Host => "127.0.0.1";

        public int Port => 4222;

        public bool HeadersSupported => true;

        public bool AuthRequired => false;

        public bool TlsRequired => false;

        public bool TlsVerify => false;

        public bool TlsAvailable => false;

        public int MaxPayload => 1024 * 1024;

        public bool JetStreamAvailable => true;

        public ulong ClientId => 1;

        public string ClientIp => "127.0.0.1";

        public string? Nonce => null;

        public string[]? ClientConnectUrls => null;

        public string[]? WebSocketConnectUrls => null;

        public bool LameDuckMode => false;
    }
}
