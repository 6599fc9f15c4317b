using System.Collections.Concurrent;
using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>In-memory servers, broker instances and member nodes for one test; disposing stops them all.</summary>
internal sealed class CollectivesTestbed : IAsyncDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly List<IAsyncDisposable> _owned = [];

    public CollectivesTestbed()
    {
        Transport = new InMemorySubjectTransport(Registry);
    }

    public InMemorySubjectServerRegistry Registry { get; } = new();

    public InMemorySubjectTransport Transport { get; }

    public FederationTelemetry Telemetry { get; } = new();

    public static string Uri(string server) => $"memory://{server}";

    /// <summary>Connects to <paramref name="server"/>, which the testbed starts (registers) on first use, as a simulator would.</summary>
    public async Task<ISubjectConnection> ConnectAsync(string server, string name = "test")
    {
        Registry.GetOrAdd(server);
        var connection = await Transport.ConnectAsync(new SubjectConnectionRequest(Uri(server), name), CancellationToken.None);
        _owned.Add(connection);
        return connection;
    }

    public async Task<FederationBroker> StartBrokerAsync(string cluster, string federation, string collective, string? instance = null, Action<FederationBrokerOptions>? configure = null)
    {
        var options = new FederationBrokerOptions
        {
            ClusterName = cluster,
            FederationUri = Uri(federation),
            CollectiveUri = Uri(collective),
            InstanceName = instance ?? $"{cluster}-1",
        };
        configure?.Invoke(options);
        Registry.GetOrAdd(federation);
        Registry.GetOrAdd(collective);
        var broker = new FederationBroker(options, [Transport], Telemetry);
        _owned.Add(broker);
        await broker.StartAsync(CancellationToken.None);
        return broker;
    }

    /// <summary>Starts nodes in a collective server; each answers broadcasts to <c>&lt;collective&gt;.broadcast.agent.ping</c> and its own node subject.</summary>
    public async Task<List<CollectiveNode>> StartNodesAsync(string server, string collective, params string[] identities)
    {
        var nodes = new List<CollectiveNode>();
        foreach (var identity in identities)
        {
            var node = new CollectiveNode(await ConnectAsync(server, identity), server, collective, identity);
            await node.StartAsync();
            nodes.Add(node);
        }

        return nodes;
    }

    public async Task<FederatedClient> ClientAsync(string federation, FederatedClientOptions? options = null) =>
        new(await ConnectAsync(federation, "client"), options);

    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(PollInterval);
        }
    }

    public static string Text(SubjectMessage message) => Encoding.UTF8.GetString(message.Body.Span);

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        Telemetry.Dispose();
    }
}

/// <summary>A member of a collective that answers requests with "&lt;identity&gt;@&lt;server&gt;" and records what it received.</summary>
internal sealed class CollectiveNode(ISubjectConnection connection, string server, string collective, string identity)
{
    public string Identity { get; } = identity;

    public string Server { get; } = server;

    public ConcurrentQueue<SubjectMessage> Received { get; } = new();

    public string NodeSubject => $"{collective}.node.{Identity}";

    public async Task StartAsync()
    {
        await connection.SubscribeAsync($"{collective}.broadcast.agent.ping", null, AnswerAsync, CancellationToken.None);
        await connection.SubscribeAsync(NodeSubject, null, AnswerAsync, CancellationToken.None);
    }

    private async ValueTask AnswerAsync(SubjectMessage request, CancellationToken cancellationToken)
    {
        Received.Enqueue(request with { Body = request.Body.ToArray() });
        await connection.ReplyAsync(request, Encoding.UTF8.GetBytes($"{Identity}@{Server}"), [new("X-Node", Identity)], cancellationToken);
    }
}
