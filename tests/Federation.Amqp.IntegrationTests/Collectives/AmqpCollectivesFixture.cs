using Federation.Amqp.Messaging;
using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.Transport.Messaging;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests.Collectives;

/// <summary>
/// The Federation of Collectives over two real RabbitMQ nodes: the federation on one node (vhost <c>/</c>), and the three
/// member collectives (London, Tokyo, New York) isolated in vhosts of the other. Two simulated nodes per collective and one
/// broker instance per cluster, all through <see cref="AmqpSubjectTransport"/>.
/// </summary>
public sealed class AmqpCollectivesFixture : IAsyncLifetime
{
    public static readonly string[] CollectiveNames = ["london", "tokyo", "newyork"];

    private readonly List<IAsyncDisposable> _owned = [];

    public AmqpSubjectTransport Transport { get; } = new();

    public FederationTelemetry Telemetry { get; } = new();

    public RabbitMqNode FederationNode { get; private set; } = null!;

    public RabbitMqNode CollectiveNode { get; private set; } = null!;

    /// <summary>The federation's URI (with credentials).</summary>
    public string FederationUri => FederationNode.AmqpUri();

    /// <summary>The URIs of the member collectives by name.</summary>
    public IReadOnlyDictionary<string, string> CollectiveUris { get; private set; } = null!;

    internal IReadOnlyDictionary<string, IReadOnlyList<AmqpCollectiveNode>> Nodes { get; private set; } = null!;

    public static string NodeName(string collective, int index) => $"{collective}-{index}";

    public async Task InitializeAsync()
    {
        // No plugins: the subject transport needs nothing beyond AMQP, and the nodes boot faster. One after the other: two
        // RabbitMQ boots at once, next to other suites' nodes, can starve each other on a small machine.
        FederationNode = await RabbitMqNode.StartNewAsync([]);
        _owned.Add(FederationNode);
        CollectiveNode = await RabbitMqNode.StartNewAsync([]);
        _owned.Add(CollectiveNode);
        foreach (var collective in CollectiveNames)
        {
            await CtlAsync(CollectiveNode, "add_vhost", collective);
            await CtlAsync(CollectiveNode, "set_permissions", "-p", collective, "guest", ".*", ".*", ".*");
        }

        CollectiveUris = CollectiveNames.ToDictionary(c => c, c => CollectiveNode.AmqpUri(c));
        var members = new Dictionary<string, IReadOnlyList<AmqpCollectiveNode>>();
        foreach (var collective in CollectiveNames)
        {
            var list = new List<AmqpCollectiveNode>();
            for (var i = 1; i <= 2; i++)
            {
                var node = await AmqpCollectiveNode.StartAsync(NodeName(collective, i), CollectiveUris[collective], Transport);
                _owned.Insert(0, node);
                list.Add(node);
            }

            members[collective] = list;
        }

        Nodes = members;
        foreach (var collective in CollectiveNames)
        {
            await StartBrokerAsync(collective, collective, $"{collective}-broker");
        }
    }

    /// <summary>Starts a broker instance joining <paramref name="collective"/> to the federation.</summary>
    public async Task<FederationBroker> StartBrokerAsync(string cluster, string collective, string instance, bool ownedByFixture = true)
    {
        var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = cluster, FederationUri = FederationUri, CollectiveUri = CollectiveUris[collective], InstanceName = instance },
            [Transport],
            Telemetry);
        await broker.StartAsync(CancellationToken.None);
        Assert.True(broker.IsConnected, $"{instance}: {broker.ConnectError}");
        if (ownedByFixture)
        {
            _owned.Insert(0, broker);
        }

        return broker;
    }

    /// <summary>A federated client on the federation; dispose the connection.</summary>
    public async Task<(FederatedClient Client, ISubjectConnection Connection)> OpenClientAsync()
    {
        var connection = await Transport.ConnectAsync(new SubjectConnectionRequest(FederationUri, "federated-client"), CancellationToken.None);
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

    private static async Task CtlAsync(RabbitMqNode node, params string[] arguments)
    {
        var result = await node.CtlAsync(CancellationToken.None, arguments);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)} failed: {result.Output}");
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AmqpCollectivesCollection : ICollectionFixture<AmqpCollectivesFixture>
{
    public const string Name = "collectives over RabbitMQ nodes";
}
