// Quickstart: three "collectives" (London, Tokyo, New York), each with its own in-memory broker and its own federation
// host, joined in a complete graph. Every city federates the exchange "federated.news" from the other two, so a message
// published in one city reaches the desks of all three exactly once. No server needed.
using System.Collections.Concurrent;
using System.Text;
using Federation.Core;
using Federation.Core.Hops;
using Federation.Core.Hosting;
using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

string[] cities = ["london", "tokyo", "new-york"];
var registry = new InMemoryBrokerRegistry();
foreach (var city in cities)
{
    registry.GetOrAdd(city, clusterName: city);
}

// One host per city, as each would run in its own data centre. The configuration uses rabbitmqctl's vocabulary.
var hosts = new List<IHost>();
foreach (var city in cities)
{
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    builder.Services.AddFederation(options =>
    {
        options.Downstream.Uri = $"memory://{city}/%2f";
        foreach (var other in cities.Where(c => c != city))
        {
            options.Upstreams[other] = UpstreamDefinition.FromJson($$"""{ "uri": "memory://{{other}}/%2f", "max-hops": 1 }""");
        }

        options.Policies["news"] = FederationPolicy.FromJson("""
            { "pattern": "^federated\\.", "apply-to": "exchanges", "definition": { "federation-upstream-set": "all" } }
            """);
    }).UseInMemoryBrokers(registry);
    var host = builder.Build();
    await host.StartAsync();
    hosts.Add(host);
}

// Applications in each city declare the exchange and bind their desk queue, with no knowledge of federation.
var received = new ConcurrentQueue<string>();
var connections = new Dictionary<string, IBrokerConnection>();
foreach (var city in cities)
{
    var app = await registry.GetOrAdd(city).ConnectAsync("/", $"{city}-app");
    connections[city] = app;
    await app.DeclareExchangeAsync(new ExchangeSpec("federated.news", ExchangeSpec.Types.Topic), CancellationToken.None);
    await app.DeclareQueueAsync(new QueueSpec($"{city}.desk"), CancellationToken.None);
    await app.BindAsync(new BindingSpec("federated.news", $"{city}.desk", BindingDestinationKind.Queue, "news.#"), noWait: false, CancellationToken.None);
    await app.ConsumeAsync($"{city}.desk", new ConsumerOptions(Prefetch: 10, AutoAck: true), (delivery, _) =>
    {
        var trail = HopRules.ReadReceivedFrom(delivery.Properties.Headers);
        var path = trail.Count == 0 ? "local" : "via " + string.Join(" <- ", trail.Select(h => h.ClusterName));
        received.Enqueue($"  [{city,-8}] got \"{Encoding.UTF8.GetString(delivery.Body.Span)}\" ({path})");
        return ValueTask.CompletedTask;
    }, CancellationToken.None);
}

var statuses = hosts.Select(h => h.Services.GetRequiredService<IFederationStatus>()).ToList();
await WaitAsync(() => statuses.All(s => s.GetLinks() is { Count: 2 } links && links.All(l => l.State == LinkState.Running)), "links running");

// Bindings propagate asynchronously; wait until every city's exchange carries its desk plus the two remote links.
await WaitAsync(() => cities.All(c => registry.GetOrAdd(c).GetBindings("/", "federated.news").Count == 3), "bindings propagated");

Console.WriteLine("Links (one per federated exchange and upstream):");
foreach (var (city, status) in cities.Zip(statuses))
{
    foreach (var link in status.GetLinks())
    {
        Console.WriteLine($"  {city,-8} {link.Exchange} <- {link.Upstream,-8} id {link.Id}");
    }
}

Console.WriteLine();
Console.WriteLine("Publishing one headline in each city:");
foreach (var city in cities)
{
    await using var publisher = await connections[city].OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
    await publisher.PublishAsync("federated.news", $"news.{city}", new MessageProperties(), Encoding.UTF8.GetBytes($"headline from {city}"), CancellationToken.None);
}

// 3 headlines x 3 desks: each desk gets its own headline locally and the two others across one link each.
await WaitAsync(() => received.Count >= 9, "9 deliveries");
foreach (var line in received.Order(StringComparer.Ordinal))
{
    Console.WriteLine(line);
}

Console.WriteLine();
Console.WriteLine("Federation status:");
Console.WriteLine($"  {"node",-9}{"id",-10}{"exchange",-16}{"upstream",-10}{"uri",-24}{"state",-9}since");
foreach (var (city, status) in cities.Zip(statuses))
{
    foreach (var l in status.GetLinks())
    {
        Console.WriteLine($"  {city,-9}{l.Id,-10}{l.Exchange,-16}{l.Upstream,-10}{l.Uri,-24}{l.State.ToString().ToLowerInvariant(),-9}{l.Since:HH:mm:ss}");
    }
}

foreach (var connection in connections.Values)
{
    await connection.DisposeAsync();
}

foreach (var host in hosts)
{
    await host.StopAsync();
    host.Dispose();
}

var exact = received.Count == 9;
Console.WriteLine();
Console.WriteLine(exact ? "Done: every headline reached every city exactly once." : $"Unexpected: {received.Count} deliveries.");
return exact ? 0 : 1;

static async Task WaitAsync(Func<bool> condition, string what)
{
    var deadline = DateTime.UtcNow.AddSeconds(20);
    while (!condition())
    {
        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"Timed out waiting for {what}.");
        }

        await Task.Delay(20);
    }
}
