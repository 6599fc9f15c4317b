using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Collectives;

/// <summary>
/// Five real nats-servers shared by the collective tests: three member collectives (London, Tokyo, New York), the federation,
/// and a second federation. Two simulated nodes per collective. Broker clusters <c>london</c>, <c>tokyo</c> and <c>newyork</c>
/// join their collective to the federation; <c>london_second</c> joins London to the second federation too.
/// </summary>
public sealed class CollectivesFixture : IAsyncLifetime
{
    public static readonly string[] CollectiveNames = ["london", "tokyo", "newyork"];

    private readonly List<IAsyncDisposable> _owned = [];

    public NatsSubjectTransport Transport { get; } = new();

    public FederationTelemetry Telemetry { get; } = new();

    public NatsServerProcess Federation { get; private set; } = null!;

    public NatsServerProcess SecondFederation { get; private set; } = null!;

    public IReadOnlyDictionary<string, NatsServerProcess> Collectives { get; private set; } = null!;

    internal IReadOnlyDictionary<string, IReadOnlyList<CollectiveNode>> Nodes { get; private set; } = null!;

    public IReadOnlyDictionary<string, FederationBroker> Brokers { get; private set; } = null!;

    public static string NodeName(string collective, int index) => $"{collective}-{index}";

    public async Task InitializeAsync()
    {
        var servers = await Task.WhenAll(Enumerable.Range(0, CollectiveNames.Length + 2).Select(_ => NatsServerProcess.StartAsync()));
        _owned.AddRange(servers);
        Federation = servers[^2];
        SecondFederation = servers[^1];
        Collectives = CollectiveNames.Select((name, i) => (name, server: servers[i])).ToDictionary(x => x.name, x => x.server);

        var nodes = new Dictionary<string, IReadOnlyList<CollectiveNode>>();
        foreach (var collective in CollectiveNames)
        {
            var members = new List<CollectiveNode>();
            for (var i = 1; i <= 2; i++)
            {
                var node = await CollectiveNode.StartAsync(NodeName(collective, i), Collectives[collective].Url, Transport);
                _owned.Insert(0, node);
                members.Add(node);
            }

            nodes[collective] = members;
        }

        Nodes = nodes;
        var brokers = new Dictionary<string, FederationBroker>();
        foreach (var collective in CollectiveNames)
        {
            brokers[collective] = await StartBrokerAsync(collective, Federation, Collectives[collective], $"{collective}-broker");
        }

        brokers["london_second"] = await StartBrokerAsync("london_second", SecondFederation, Collectives["london"], "london-second-broker");
        Brokers = brokers;
    }

    /// <summary>Starts a broker instance owned by the caller.</summary>
    public async Task<FederationBroker> StartBrokerAsync(string cluster, NatsServerProcess federation, NatsServerProcess collective, string instance, bool ownedByFixture = true)
    {
        var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = cluster, FederationUri = federation.Url, CollectiveUri = collective.Url, InstanceName = instance },
            [Transport],
            Telemetry);
        await broker.StartAsync(CancellationToken.None);
        if (ownedByFixture)
        {
            _owned.Insert(0, broker);
        }

        return broker;
    }

    /// <summary>A federated client on <paramref name="server"/>; dispose the connection.</summary>
    public async Task<(FederatedClient Client, ISubjectConnection Connection)> OpenClientAsync(NatsServerProcess server)
    {
        var connection = await Transport.ConnectAsync(new SubjectConnectionRequest(server.Url, "federated-client"), CancellationToken.None);
        return (new FederatedClient(connection, new FederatedClientOptions { Identity = "test-client" }), connection);
    }

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }

        Telemetry.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class CollectivesCollection : ICollectionFixture<CollectivesFixture>
{
    public const string Name = "collectives over nats-servers";
}
