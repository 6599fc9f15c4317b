// Sends the same load through two federated exchanges between the same two RabbitMQ nodes, in one run:
// "bench.plugin" is federated by RabbitMQ's own federation plugin, "bench.ours" by a Federation.Core link in this process.
// Both use ack-mode on-confirm and 256-byte messages. Prints msgs/s, p50 and p99 end-to-end latency, and the ratios.
// Usage: Federation.EndToEnd UPSTREAM_URI DOWNSTREAM_URI [MESSAGES]
using System.Diagnostics;
using Federation.Amqp;
using Federation.Core;
using Federation.Core.Model;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

var upstreamUri = args[0];
var downstreamUri = args[1];
var messages = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 20_000;

var options = new FederationOptions { Downstream = { Uri = downstreamUri } };
options.Upstreams["upstream"] = new UpstreamDefinition { Uris = { upstreamUri }, AckMode = AckMode.OnConfirm, PrefetchCount = 1000 };
options.Policies["ours"] = new FederationPolicy { Pattern = "^bench\\.ours$", ApplyTo = "exchanges", Definition = { FederationUpstream = "upstream" } };
await using var engine = new FederationEngine(options, [new AmqpTransport()]);
await engine.StartAsync(CancellationToken.None);

var upstream = await Connect(upstreamUri);
var downstream = await Connect(downstreamUri);
var results = new List<(string Name, double Rate, double P50, double P99)>();
foreach (var exchange in new[] { "bench.plugin", "bench.ours" })
{
    results.Add(await Measure(exchange));
}

var plugin = results[0];
var ours = results[1];
Console.WriteLine();
Console.WriteLine($"{"path",-34}{"msgs/s",12}{"p50 ms",10}{"p99 ms",10}");
foreach (var r in results)
{
    Console.WriteLine($"{r.Name,-34}{r.Rate,12:F0}{r.P50,10:F2}{r.P99,10:F2}");
}

Console.WriteLine($"ratio (ours / plugin): throughput {ours.Rate / plugin.Rate:F2}x, p50 {ours.P50 / plugin.P50:F2}x, p99 {ours.P99 / plugin.P99:F2}x");
await upstream.CloseAsync();
await downstream.CloseAsync();
return 0;

async Task<(string, double, double, double)> Measure(string exchange)
{
    await using var producer = await upstream.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
    await using var consumerChannel = await downstream.CreateChannelAsync();
    await consumerChannel.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true);
    await producer.ExchangeDeclareAsync(exchange, ExchangeType.Direct, durable: true);
    var queue = (await consumerChannel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true)).QueueName;
    await consumerChannel.QueueBindAsync(queue, exchange, "k");
    await WaitForUpstreamBinding(exchange);

    var latencies = new double[messages];
    var received = 0;
    var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    var consumer = new AsyncEventingBasicConsumer(consumerChannel);
    consumer.ReceivedAsync += (_, delivery) =>
    {
        var sent = BitConverter.ToInt64(delivery.Body.Span[..8]);
        var index = Interlocked.Increment(ref received) - 1;
        if (index < messages)
        {
            latencies[index] = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
        }

        if (index + 1 == messages)
        {
            done.TrySetResult();
        }

        return Task.CompletedTask;
    };
    await consumerChannel.BasicConsumeAsync(queue, autoAck: true, consumer);

    var body = new byte[256];
    var started = Stopwatch.GetTimestamp();
    var inFlight = new List<Task>(256);
    for (var i = 0; i < messages; i++)
    {
        BitConverter.TryWriteBytes(body, Stopwatch.GetTimestamp());
        inFlight.Add(producer.BasicPublishAsync(exchange, "k", body.ToArray()).AsTask());
        if (inFlight.Count == 256)
        {
            await Task.WhenAll(inFlight);
            inFlight.Clear();
        }
    }

    await Task.WhenAll(inFlight);
    await done.Task.WaitAsync(TimeSpan.FromMinutes(5));
    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    Array.Sort(latencies);
    var name = exchange == "bench.plugin" ? "RabbitMQ federation plugin" : "Federation.Core link (this process)";
    Console.WriteLine($"{name}: {messages} messages in {seconds:F2} s");
    return (name, messages / seconds, latencies[messages / 2], latencies[(int)(messages * 0.99)]);
}

async Task WaitForUpstreamBinding(string exchange)
{
    // The binding must have propagated before the load starts, or the first messages are not captured (true of the
    // plugin as well). Both federation implementations bind the upstream exchange to an exchange named "federation: ...".
    var upstreamAddress = new Uri(upstreamUri);
    var managementPort = System.Web.HttpUtility.ParseQueryString(upstreamAddress.Query)["management-port"] ?? "15672";
    using var http = new HttpClient { BaseAddress = new Uri($"http://{upstreamAddress.Host}:{managementPort}/") };
    var credentials = Uri.UnescapeDataString(upstreamAddress.UserInfo);
    http.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(credentials)));
    var deadline = DateTime.UtcNow.AddSeconds(60);
    while (true)
    {
        var json = await http.GetStringAsync($"api/exchanges/%2F/{Uri.EscapeDataString(exchange)}/bindings/source");
        if (json.Contains("\"destination\":\"federation: ", StringComparison.Ordinal) && json.Contains("\"routing_key\":\"k\"", StringComparison.Ordinal))
        {
            return;
        }

        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"No upstream binding for {exchange}: {json}");
        }

        await Task.Delay(200);
    }
}

static async Task<IConnection> Connect(string uri)
{
    var clean = uri.Split('?')[0];
    return await new ConnectionFactory { Uri = new Uri(clean) }.CreateConnectionAsync();
}
