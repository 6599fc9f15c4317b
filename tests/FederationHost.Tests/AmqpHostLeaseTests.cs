using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;

namespace FederationHost.Tests;

/// <summary>
/// Two FederationHost processes with the same configuration (only <c>InstanceName</c> differs) against two real RabbitMQ
/// nodes: the second host's link waits for the first's lease and says so in <c>/federation/links</c> and
/// <c>FederationHost status</c>; the first is killed with SIGKILL; the second takes over; every message published
/// upstream arrives downstream exactly once.
/// </summary>
public sealed class AmqpHostLeaseTests(TwoRabbitMqNodesFixture nodes) : IClassFixture<TwoRabbitMqNodesFixture>, IAsyncLifetime
{
    private static readonly TimeSpan TakeOver = TimeSpan.FromSeconds(30);
    private readonly string _exchange = $"federated.lease.{Guid.NewGuid():N}";
    private readonly List<IAsyncDisposable> _resources = [];
    private readonly List<string> _received = [];
    private IChannel _upstream = null!;
    private IChannel _downstream = null!;

    private string DownstreamQueue => _exchange + ".received";

    private string UpstreamQueue => $"federation: {_exchange} -> {nodes.Downstream.ClusterName}";

    public async Task InitializeAsync()
    {
        _upstream = await OpenChannelAsync(nodes.Upstream.AmqpPort, new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        _downstream = await OpenChannelAsync(nodes.Downstream.AmqpPort);
        await _downstream.ExchangeDeclareAsync(_exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        await _downstream.QueueDeclareAsync(DownstreamQueue, durable: false, exclusive: false, autoDelete: false);
        await _downstream.QueueBindAsync(DownstreamQueue, _exchange, "#");
    }

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(_resources))
        {
            await resource.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_second_host_waits_naming_the_runner_and_takes_over_after_a_sigkill_delivering_every_message_once()
    {
        var hostA = Track(HostProcess.Start(Settings("host-a")));
        var urlA = await hostA.WaitForListeningAsync();
        await WaitForLinkAsync(urlA, "running", hostA);

        // Placement (rendezvous hashing of the link id and the instance names) decides which host runs the link once
        // both are live: host-a keeps it, or hands it over to host-b. Either way one runs it and the other waits, naming it.
        var hostB = Track(HostProcess.Start(Settings("host-b")));
        var urlB = await hostB.WaitForListeningAsync();
        var hosts = new[] { ("host-a", urlA, hostA), ("host-b", urlB, hostB) };
        var (runner, waiter) = await WaitForOneRunnerAsync(hosts);
        var waiting = await WaitForLinkAsync(waiter.Url, "waiting", waiter.Host);
        Assert.Equal(runner.Name, waiting.GetProperty("running_on").GetString());
        Assert.Equal(waiter.Name, waiting.GetProperty("instance").GetString());
        Assert.Contains($"'{runner.Name}'", waiting.GetProperty("waiting").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, waiting.GetProperty("error").ValueKind);

        await using (var status = HostProcess.StartCommand(waiter.Host.ContentRoot, "status", "--url", waiter.Url.ToString()))
        {
            Assert.Equal(0, await status.WaitForExitAsync());
            var row = status.StandardOutput.Split('\n').Single(l => l.Contains(_exchange, StringComparison.Ordinal)).Split('\t');
            Assert.Equal("waiting", row[6]);
            Assert.Equal(runner.Name, row[12]); // running_on
            Assert.Contains($"'{runner.Name}'", row[13], StringComparison.Ordinal); // waiting
        }

        await PublishAsync(0, 500);
        await WaitUntilSettledAsync(500);

        _resources.Remove(runner.Host);
        await runner.Host.DisposeAsync(); // SIGKILL: no clean stop, the socket closes, RabbitMQ drops the lease
        await PublishAsync(500, 1000);
        var taken = await WaitForLinkAsync(waiter.Url, "running", waiter.Host, TakeOver);
        Assert.Equal(waiter.Name, taken.GetProperty("lease_holder").GetString());
        Assert.Equal(waiter.Name, taken.GetProperty("running_on").GetString());
        await PublishAsync(1000, 1500);

        await Eventually.UntilAsync(
            async () => await DrainDownstreamAsync() >= 1500 && await _upstream.MessageCountAsync(UpstreamQueue) == 0,
            done => done,
            "1500 distinct messages downstream and none left upstream",
            TakeOver);
        Assert.Equal(Enumerable.Range(0, 1500).Select(Id).Order(StringComparer.Ordinal), _received.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Waits until one host runs the link and the other stands by because placement puts the link on the first: the
    /// settled state (a waiter that was merely refused may still be handed the link).
    /// </summary>
    private async Task<((string Name, Uri Url, HostProcess Host) Runner, (string Name, Uri Url, HostProcess Host) Waiter)> WaitForOneRunnerAsync((string Name, Uri Url, HostProcess Host)[] hosts)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var runner = await Eventually.UntilAsync(
            async () =>
            {
                var states = new List<(string Name, string? State, string? RunningOn, string? Waiting)>();
                foreach (var (name, url, _) in hosts)
                {
                    var links = await http.GetFromJsonAsync<JsonElement>(new Uri(url, "/federation/links"));
                    var link = links.EnumerateArray().SingleOrDefault(x => x.GetProperty("exchange").GetString() == _exchange);
                    states.Add(link.ValueKind == JsonValueKind.Undefined
                        ? (name, null, null, null)
                        : (name, link.GetProperty("state").GetString(), link.GetProperty("running_on").GetString(), link.GetProperty("waiting").GetString()));
                }

                var running = states.Where(s => s.State == "running").ToList();
                var waiting = states.Where(s => s.State == "waiting").ToList();
                return running is [var r] && waiting is [var w] && w.RunningOn == r.Name && w.Waiting?.Contains("placement puts it on", StringComparison.Ordinal) == true ? r.Name : null;
            },
            name => name is not null,
            "one host running the link and the other standing by for it",
            HostProcess.DefaultTimeout);
        return (hosts.Single(h => h.Name == runner), hosts.Single(h => h.Name != runner));
    }

    private HostProcess Track(HostProcess host)
    {
        _resources.Add(host);
        return host;
    }

    private string Settings(string instance) => $$"""
        {
          "Host": { "Url": "http://127.0.0.1:0", "CreateInMemoryBrokers": false },
          "Logging": { "LogLevel": { "Default": "Warning", "Microsoft.Hosting.Lifetime": "Information" } },
          "Federation": {
            "InstanceName": "{{instance}}",
            "Downstream": { "uri": "{{nodes.Downstream.AmqpUri()}}" },
            "Upstreams": { "up": { "uri": "{{nodes.Upstream.AmqpUri()}}", "reconnect-delay": 1 } },
            "Policies": { "fed": { "pattern": "^{{_exchange.Replace(".", "\\\\.", StringComparison.Ordinal)}}$", "apply-to": "exchanges", "definition": { "federation-upstream": "up" } } }
          }
        }
        """;

    private async Task<JsonElement> WaitForLinkAsync(Uri url, string state, HostProcess host, TimeSpan? timeout = null)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
        var links = await Eventually.UntilAsync(
            () => http.GetFromJsonAsync<JsonElement>("/federation/links"),
            l => l.EnumerateArray().Any(x => x.GetProperty("exchange").GetString() == _exchange && x.GetProperty("state").GetString() == state) || host.HasExited,
            $"the link to be {state} on {url}",
            timeout ?? HostProcess.DefaultTimeout);
        Assert.False(host.HasExited, host.Describe());
        return links.EnumerateArray().Single(x => x.GetProperty("exchange").GetString() == _exchange);
    }

    private async Task PublishAsync(int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            await _upstream.BasicPublishAsync(_exchange, "k", true, new BasicProperties { MessageId = Id(i), DeliveryMode = DeliveryModes.Persistent }, Encoding.UTF8.GetBytes(Id(i)));
        }
    }

    /// <summary>
    /// Waits until <paramref name="count"/> messages arrived and the upstream node holds none unacknowledged, so that the
    /// kill finds nothing in flight: what a kill mid-stream would redeliver is at-least-once, and not this test's subject.
    /// </summary>
    private async Task WaitUntilSettledAsync(int count) =>
        await Eventually.UntilAsync(
            async () => await DrainDownstreamAsync() >= count && await UnacknowledgedUpstreamAsync() == 0,
            done => done,
            $"{count} messages forwarded and acknowledged upstream");

    private async Task<int> DrainDownstreamAsync()
    {
        while (await _downstream.BasicGetAsync(DownstreamQueue, autoAck: true) is { } message)
        {
            _received.Add(Encoding.UTF8.GetString(message.Body.Span));
        }

        return _received.Distinct().Count();
    }

    private Task<int> UnacknowledgedUpstreamAsync() => nodes.Upstream.UnacknowledgedAsync(UpstreamQueue);

    private static string Id(int i) => i.ToString("D5", CultureInfo.InvariantCulture);

    private async Task<IChannel> OpenChannelAsync(int port, CreateChannelOptions? options = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") };
        var connection = await factory.CreateConnectionAsync();
        _resources.Add(connection);
        var channel = await connection.CreateChannelAsync(options);
        _resources.Add(channel);
        return channel;
    }
}
