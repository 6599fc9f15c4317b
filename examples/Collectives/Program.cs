// Federation of Collectives: London, Tokyo and New York collectives joined into one federation by stateless broker
// clusters (two instances each). Runs on the in-memory bus by default; point the URIs at nats:// servers to run on NATS,
// or at amqp:// vhosts to run on RabbitMQ (run-on-rabbitmq.sh starts a node and does that).
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Collectives;
using Federation.Amqp;
using Federation.Core.Collectives;
using Federation.Core.Diagnostics;
using Federation.Core.Hosting;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats;
using FederationHost.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
ExampleSettings settings;
try
{
    settings = ExampleSettings.Read(builder.Configuration);
}
catch (ExampleSettingsException error)
{
    // A settings mistake ends the example like a server it cannot reach: one line naming the setting, exit code 2.
    Console.Error.WriteLine($"Collectives example: {error.Message}");
    return 2;
}

builder.Services.AddNatsSubjectTransport(); // nats:// and tls:// URIs; memory:// is always there
builder.Services.AddAmqpSubjectTransport(); // amqp:// and amqps:// URIs

// The in-memory bus only reaches servers that were started (registered): start the ones the URIs name.
var inMemoryServers = new InMemorySubjectServerRegistry();
foreach (var uri in settings.Collectives.Select(c => c.Uri).Append(settings.FederationUri).Where(u => u.StartsWith("memory://", StringComparison.OrdinalIgnoreCase)))
{
    inMemoryServers.GetOrAdd(new Uri(uri).Host);
}

builder.Services.AddSingleton(inMemoryServers);
var collectiveByInstance = new Dictionary<string, string>(StringComparer.Ordinal);
foreach (var collective in settings.Collectives)
{
    for (var instance = 1; instance <= settings.BrokerInstances; instance++)
    {
        var instanceName = $"{collective.Name}-broker-{instance}";
        collectiveByInstance[instanceName] = collective.Name;
        builder.Services.AddFederationBroker(instanceName, options =>
        {
            options.ClusterName = collective.Name;
            options.InstanceName = instanceName;
            options.FederationUri = settings.FederationUri;
            options.CollectiveUri = collective.Uri;
        });
    }
}

using var host = builder.Build();
if (BrokerSettingsCheck.Problems(host.Services, collectiveByInstance) is { Count: > 0 } problems)
{
    foreach (var problem in problems)
    {
        Console.Error.WriteLine($"Collectives example: {problem}");
    }

    return 2;
}

using var metrics = new MeterAggregator([FederationTelemetry.SourceName], host.Services.GetRequiredService<IMeterFactory>());
using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
await host.StartAsync(stop.Token);
var transports = host.Services.GetRequiredService<SubjectTransportResolver>();
var connections = new List<IAsyncDisposable>();
try
{
    foreach (var collective in settings.Collectives)
    {
        foreach (var node in collective.Nodes)
        {
            var connection = await ConnectAsync(collective.Uri, node, $"Example:Collectives:{collective.Name}:Uri");
            connections.Add(connection);
            await SimulatedNode.StartAsync(connection, collective.Name, node, stop.Token);
        }
    }

    var federation = await ConnectAsync(settings.FederationUri, "collectives-example client", "Example:FederationUri");
    connections.Add(federation);
    var client = new FederatedClient(federation, new FederatedClientOptions { Identity = "example-client" });
    var expected = settings.Collectives.Sum(c => c.Nodes.Count);
    var clock = Stopwatch.StartNew();
    var result = await client.RequestAsync(new FederatedRequest
    {
        Federations = settings.Collectives.Select(c => c.Name).ToList(),
        Targets = [SimulatedNode.RpcutilBroadcast],
        Body = Encoding.UTF8.GetBytes("ping"),
        ExpectedReplies = expected,
        Timeout = settings.Timeout,
    }, stop.Token);

    Console.WriteLine($"Federated request {result.RequestId} to {string.Join(", ", settings.Collectives.Select(c => c.Name))} " +
                      $"via {UriRedaction.Redact(settings.FederationUri)}: {result.Replies.Count} of {expected} replies in {clock.ElapsedMilliseconds} ms " +
                      (result.Completed ? "(completed)" : "(timed out)"));
    foreach (var collective in settings.Collectives)
    {
        var replies = result.Replies.Where(r => r.Headers?.Any(h => h.Key == SimulatedNode.CollectiveHeader && h.Value == collective.Name) == true).ToList();
        Console.WriteLine($"{collective.Name} ({replies.Count} replies)");
        foreach (var reply in replies.OrderBy(r => Encoding.UTF8.GetString(r.Body.Span), StringComparer.Ordinal))
        {
            var brokers = FederatedMessages.GetSeenBy(reply).Skip(1).Select(hop => hop.Processor);
            Console.WriteLine($"  {Encoding.UTF8.GetString(reply.Body.Span),-28} via {string.Join(" -> ", brokers)}");
        }
    }

    if (settings.PrintMetrics)
    {
        Console.WriteLine();
        MetricsPrinter.Print(metrics.Collect(), Console.Out);
    }

    return result.Completed ? 0 : 1;
}
catch (ExampleConnectException error)
{
    // The simulated nodes and the client connect directly, so a server they cannot reach ends the example: one line that
    // names the setting and the cause (URIs redacted), not a stack trace.
    Console.Error.WriteLine($"Collectives example: {error.Message}");
    return 2;
}
finally
{
    foreach (var connection in connections)
    {
        await connection.DisposeAsync();
    }

    await host.StopAsync(CancellationToken.None);
}

async Task<ISubjectConnection> ConnectAsync(string uri, string name, string setting)
{
    try
    {
        return await transports.ConnectAsync(uri, name, stop.Token);
    }
    catch (TransportException error)
    {
        throw new ExampleConnectException($"{setting}: '{name}' cannot connect to {UriRedaction.Redact(uri)}: {UriRedaction.RedactText(error.Message)}", error);
    }
}
