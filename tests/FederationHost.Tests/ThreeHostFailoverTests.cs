using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Federation.Testing.Brokers;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using Xunit.Abstractions;

namespace FederationHost.Tests;

/// <summary>
/// Issue 13's first real-broker bar: three FederationHost processes with one configuration (only <c>InstanceName</c> and
/// the HTTP port differ) share 30 on-confirm links between two RabbitMQ nodes. While a publisher sends persistent messages
/// with message-ids upstream (a burst of 9,000, then about 1,000/s), one host that runs links is killed with SIGKILL while
/// the links drain the burst, then another is stopped with SIGTERM: each time all 30 links run again, each in exactly one
/// surviving host, within 10 s, and in the end every message published arrived downstream exactly once (counted by
/// message-id).
/// </summary>
/// <remarks>
/// The spread over instances (10 ± 2 links each of 30 with three hosts up) is asserted only when
/// <see cref="AssertEvenSpread"/> is on: today a link stays with whichever host took its lease first.
/// </remarks>
[Collection(ThreeHostFailoverCollection.Name)]
public sealed class ThreeHostFailoverTests(ThreeHostFailoverTests.Nodes nodes, ITestOutputHelper output) : IClassFixture<ThreeHostFailoverTests.Nodes>, IAsyncLifetime
{
    /// <summary>This class's own pair of nodes: upstream and downstream, with distinct cluster names.</summary>
    public sealed class Nodes : RabbitMqNodePairFixture;

    private const int Links = 30;
    private const int Hosts = 3;

    /// <summary>The issue's bar: a dead or stopped host's links run again on the survivors within this long.</summary>
    private static readonly TimeSpan FailoverBar = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan PublishRound = TimeSpan.FromMilliseconds(30);

    /// <summary>Messages published at once at the start; the kill comes when a third of them arrived.</summary>
    private const int Burst = 9_000;

    private const int BurstBatch = 300;

    /// <summary>
    /// Whether to assert that links spread evenly (each of 3 hosts runs 10 ± 2 of 30). Pending until link spreading
    /// lands (issue 13, item 1); turn it on here, or with <c>FEDERATION_ASSERT_EVEN_SPREAD=1</c> to try it.
    /// </summary>
    private static readonly bool AssertEvenSpread = Environment.GetEnvironmentVariable("FEDERATION_ASSERT_EVEN_SPREAD") == "1";

    private readonly string _prefix = $"mh.{Guid.NewGuid():N}"[..11];
    private readonly ConcurrentDictionary<string, int> _copies = new(StringComparer.Ordinal);
    private readonly List<IAsyncDisposable> _resources = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _published;

    private IEnumerable<string> Exchanges => Enumerable.Range(0, Links).Select(i => $"{_prefix}.x{i:D2}");

    public async Task InitializeAsync()
    {
        var connection = await ConnectAsync(nodes.Downstream);
        _resources.Add(connection);
        var channel = await connection.CreateChannelAsync();
        _resources.Add(channel);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            _copies.AddOrUpdate(delivery.BasicProperties.MessageId ?? "(none)", 1, (_, n) => n + 1);
            return Task.CompletedTask;
        };
        foreach (var exchange in Exchanges)
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true);
            var queue = (await channel.QueueDeclareAsync(string.Empty, durable: false, exclusive: true, autoDelete: true)).QueueName;
            await channel.QueueBindAsync(queue, exchange, "#");
            await channel.BasicConsumeAsync(queue, autoAck: true, consumer);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var resource in Enumerable.Reverse(_resources))
        {
            await resource.DisposeAsync();
        }
    }

    [Fact]
    public async Task Three_hosts_share_30_links_and_a_killed_or_stopped_hosts_links_run_again_within_10_s_delivering_every_message_once()
    {
        var hosts = new List<HostProcess>();
        for (var i = 1; i <= Hosts; i++)
        {
            hosts.Add(Track(HostProcess.Start(Settings($"host-{i}"))));
        }

        var urls = new Dictionary<HostProcess, Uri>();
        foreach (var host in hosts)
        {
            urls[host] = await host.WaitForListeningAsync();
        }

        var placement = await WaitForEveryLinkRunningOnceAsync(hosts, urls, Deadline);
        Log($"all {Links} links running: {Describe(placement)}");
        if (AssertEvenSpread)
        {
            placement = await WaitForEvenSpreadAsync(hosts, urls);
        }

        using var stopPublishing = new CancellationTokenSource();
        var publisher = Task.Run(() => PublishUntilAsync(stopPublishing.Token), CancellationToken.None);
        await WaitForDistinctAsync(Burst / 3, "a third of the burst downstream", hosts, publisher);
        Log($"{_copies.Count} of {Volatile.Read(ref _published)} published messages downstream");

        // SIGKILL: no clean stop; RabbitMQ drops the dead host's leases when its connections close.
        var killed = Busiest(placement);
        Log($"killing {Name(killed, urls)} (pid {killed.Id}, {placement[killed]} links) with SIGKILL");
        var sinceKill = Stopwatch.StartNew();
        hosts.Remove(killed);
        _resources.Remove(killed);
        await killed.DisposeAsync();
        placement = await WaitForEveryLinkRunningOnceAsync(hosts, urls, Deadline);
        var afterKill = sinceKill.Elapsed;
        Log($"all {Links} links running again {afterKill.TotalSeconds:F1} s after the kill: {Describe(placement)}");

        await WaitForDistinctAsync(Volatile.Read(ref _published), "messages flowing after the kill", hosts, publisher);

        // SIGTERM: a clean stop, whose links shut down and release their leases before the process exits.
        var stopped = Busiest(placement);
        var dropped = await DroppedAsync(urls[stopped]);
        Log($"stopping {Name(stopped, urls)} (pid {stopped.Id}, {placement[stopped]} links) with SIGTERM");
        var sinceStop = Stopwatch.StartNew();
        hosts.Remove(stopped);
        await stopped.TerminateAsync();
        placement = await WaitForEveryLinkRunningOnceAsync(hosts, urls, Deadline);
        var afterStop = sinceStop.Elapsed;
        Log($"all {Links} links running again {afterStop.TotalSeconds:F1} s after SIGTERM: {Describe(placement)}");
        Assert.Equal(0, await stopped.WaitForExitAsync());

        await WaitForDistinctAsync(Volatile.Read(ref _published), "messages flowing after the clean stop", hosts, publisher);
        await stopPublishing.CancelAsync();
        var published = await publisher;
        Log($"published {published} messages");
        foreach (var host in hosts)
        {
            dropped += await DroppedAsync(urls[host]);
        }

        // Not asserted: how many redeliveries a kill causes depends on timing. It shows that suppression had work to do.
        Log($"the survivors dropped {dropped} redelivered messages as already forwarded (duplicate suppression)");

        await WaitForDistinctAsync(published, "every published message downstream", hosts, publisher);
        await WaitUntilQuietAsync();
        var duplicates = _copies.Where(c => c.Value > 1).Select(c => $"{c.Key} x{c.Value}").ToList();
        var lost = Enumerable.Range(0, published).Select(Id).Where(id => !_copies.ContainsKey(id)).ToList();
        Log($"downstream: {_copies.Values.Sum()} copies of {_copies.Count} distinct messages; {duplicates.Count} duplicated, {lost.Count} lost");

        Assert.True(afterKill <= FailoverBar, $"links ran again {afterKill.TotalSeconds:F1} s after SIGKILL, more than {FailoverBar.TotalSeconds} s");
        Assert.True(afterStop <= FailoverBar, $"links ran again {afterStop.TotalSeconds:F1} s after SIGTERM, more than {FailoverBar.TotalSeconds} s");
        Assert.Empty(duplicates);
        Assert.Empty(lost);
        Assert.Equal(published, _copies.Count);
    }

    /// <summary>
    /// Polls every host's <c>/federation/links</c> until each of the 30 links is <c>running</c> in exactly one of them
    /// and every other host shows it <c>waiting</c> for that one's lease; returns how many each host runs.
    /// </summary>
    private async Task<Dictionary<HostProcess, int>> WaitForEveryLinkRunningOnceAsync(List<HostProcess> hosts, Dictionary<HostProcess, Uri> urls, TimeSpan timeout)
    {
        var snapshot = await Eventually.UntilAsync(
            () => SnapshotAsync(hosts, urls),
            s => s.Exited is not null || (EveryLinkRunningOnce(s.Running) && s.StandingBy == (hosts.Count - 1) * Links),
            $"each of the {Links} links running in exactly one of {hosts.Count} hosts",
            timeout);
        Assert.True(snapshot.Exited is null, snapshot.Exited?.Describe());
        return hosts.ToDictionary(h => h, h => snapshot.Running.Count(r => r.Host == h));
    }

    private static bool EveryLinkRunningOnce(List<(HostProcess Host, string Exchange)> running) =>
        running.Count == Links && running.Select(r => r.Exchange).Distinct(StringComparer.Ordinal).Count() == Links;

    private async Task<Dictionary<HostProcess, int>> WaitForEvenSpreadAsync(List<HostProcess> hosts, Dictionary<HostProcess, Uri> urls)
    {
        var even = Links / hosts.Count;
        var snapshot = await Eventually.UntilAsync(
            () => SnapshotAsync(hosts, urls),
            s => s.Exited is not null || (EveryLinkRunningOnce(s.Running) && hosts.All(h => Math.Abs(s.Running.Count(r => r.Host == h) - even) <= 2)),
            $"each of {hosts.Count} hosts running {even} ± 2 of the {Links} links",
            Deadline);
        Assert.True(snapshot.Exited is null, snapshot.Exited?.Describe());
        var placement = hosts.ToDictionary(h => h, h => snapshot.Running.Count(r => r.Host == h));
        Log($"spread evenly: {Describe(placement)}");
        return placement;
    }

    private async Task<Snapshot> SnapshotAsync(List<HostProcess> hosts, Dictionary<HostProcess, Uri> urls)
    {
        var running = new List<(HostProcess Host, string Exchange)>();
        var standingBy = 0;
        foreach (var host in hosts)
        {
            if (host.HasExited)
            {
                return new Snapshot(running, standingBy, host);
            }

            using var http = new HttpClient { BaseAddress = urls[host], Timeout = TimeSpan.FromSeconds(10) };
            var links = await http.GetFromJsonAsync<JsonElement>("/federation/links");
            foreach (var link in links.EnumerateArray())
            {
                var exchange = link.GetProperty("exchange").GetString()!;
                if (!exchange.StartsWith(_prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                switch (link.GetProperty("state").GetString())
                {
                    case "running":
                        running.Add((host, exchange));
                        break;
                    case "waiting":
                        standingBy++;
                        break;
                }
            }
        }

        return new Snapshot(running, standingBy, null);
    }

    /// <summary>Publishes persistent messages with ids 0, 1, 2... round-robin over the exchanges, confirmed, until cancelled; returns how many.</summary>
    private async Task<int> PublishUntilAsync(CancellationToken stop)
    {
        await using var connection = await ConnectAsync(nodes.Upstream);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), CancellationToken.None);
        var exchanges = Exchanges.ToArray();
        var batch = new List<Task>(BurstBatch);
        // First a burst, confirmed 300 at a time, so that the kill finds links draining a backlog with up to a prefetch's
        // worth in flight; then a steady pace (about 1,000 messages/s): the failover is measured, not the throughput.
        using var pace = new PeriodicTimer(PublishRound);
        while (!stop.IsCancellationRequested && (_published < Burst || await pace.WaitForNextTickAsync(CancellationToken.None)))
        {
            // The links declared the upstream exchanges. Round-robin over them, then wait for the confirms.
            var count = _published < Burst ? BurstBatch : Links;
            for (var i = 0; i < count; i++)
            {
                var id = Id(_published + i);
                batch.Add(channel.BasicPublishAsync(exchanges[i % Links], "k", mandatory: false, new BasicProperties { MessageId = id, DeliveryMode = DeliveryModes.Persistent }, Encoding.ASCII.GetBytes(id), CancellationToken.None).AsTask());
            }

            await Task.WhenAll(batch);
            batch.Clear();
            Interlocked.Add(ref _published, count);
        }

        return _published;
    }

    private async Task WaitForDistinctAsync(int count, string what, List<HostProcess> hosts, Task publisher)
    {
        await Eventually.UntilAsync(
            () => Task.FromResult(_copies.Count),
            n => n >= count || publisher.IsFaulted,
            $"{count} distinct messages downstream ({what}); hosts:\n{string.Join("\n", hosts.Select(h => h.Describe()))}",
            Deadline);
        if (publisher.IsFaulted)
        {
            await publisher; // its exception
        }
    }

    /// <summary>Copies still on their way would be counted late: waits until the count has stood still for 2 s (polled, not slept).</summary>
    private async Task WaitUntilQuietAsync()
    {
        var last = -1;
        var still = Stopwatch.StartNew();
        await Eventually.UntilAsync(
            () =>
            {
                var now = _copies.Values.Sum();
                if (now != last)
                {
                    last = now;
                    still.Restart();
                }

                return Task.FromResult(still.Elapsed);
            },
            quiet => quiet > TimeSpan.FromSeconds(2),
            "the downstream count to settle",
            Deadline);
    }

    /// <summary>Messages a host's links dropped since it started (<c>/federation/links/traffic</c>); with max-hops 1 and no cycle, duplicates.</summary>
    private async Task<long> DroppedAsync(Uri url)
    {
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
        var traffic = await http.GetFromJsonAsync<JsonElement>("/federation/links/traffic");
        return traffic.EnumerateArray()
            .Where(t => t.GetProperty("exchange").GetString()!.StartsWith(_prefix, StringComparison.Ordinal))
            .Sum(t => t.GetProperty("dropped").GetInt64());
    }

    private static HostProcess Busiest(Dictionary<HostProcess, int> placement) => placement.MaxBy(p => p.Value).Key;

    private static string Name(HostProcess host, Dictionary<HostProcess, Uri> urls) => urls[host].ToString();

    private static string Describe(Dictionary<HostProcess, int> placement) =>
        string.Join(", ", placement.Select(p => $"pid {p.Key.Id}: {p.Value}"));

    private void Log(string line) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:F1} s  {line}");

    private HostProcess Track(HostProcess host)
    {
        _resources.Add(host);
        return host;
    }

    // The README's recipe (appsettings.Amqp.example.json: on-confirm, prefetch 1000, max-hops 1) for this pair of nodes,
    // with "resource-cleanup-mode": "never", which the README's "Several hosts with one configuration" asks for on links
    // that another host takes over (a clean stop otherwise deletes the upstream queue and what it buffers).
    private string Settings(string instance) => $$"""
        {
          "Host": { "Url": "http://127.0.0.1:0", "CreateInMemoryBrokers": false },
          "Logging": { "LogLevel": { "Default": "Warning", "Microsoft.Hosting.Lifetime": "Information" } },
          "Federation": {
            "InstanceName": "{{instance}}",
            "Downstream": { "uri": "{{nodes.Downstream.AmqpUri()}}" },
            "Upstreams": {
              "up": { "uri": "{{nodes.Upstream.AmqpUri()}}", "max-hops": 1, "ack-mode": "on-confirm", "prefetch-count": 1000,
                      "reconnect-delay": 1, "resource-cleanup-mode": "never" }
            },
            "Policies": { "fed": { "pattern": "^{{_prefix.Replace(".", "\\\\.", StringComparison.Ordinal)}}\\.", "apply-to": "exchanges", "definition": { "federation-upstream": "up" } } }
          }
        }
        """;

    private static async Task<IConnection> ConnectAsync(RabbitMqNode node) =>
        await new ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{node.AmqpPort.ToString(CultureInfo.InvariantCulture)}/") }.CreateConnectionAsync();

    private static string Id(int i) => i.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>The links running, by host; how many links hosts show as waiting for another's lease; a host found exited.</summary>
    private sealed record Snapshot(List<(HostProcess Host, string Exchange)> Running, int StandingBy, HostProcess? Exited)
    {
        /// <summary>For a timeout's message: links running per host (hosts that run none are not listed), waiting, exited.</summary>
        public override string ToString() =>
            $"running by pid: {string.Join(", ", Running.GroupBy(r => r.Host.Id).Select(g => $"{g.Key}: {g.Count()}"))} ({Running.Count} in all, " +
            $"{Running.Select(r => r.Exchange).Distinct(StringComparer.Ordinal).Count()} distinct); waiting: {StandingBy}" +
            (Exited is null ? "" : $"; exited: pid {Exited.Id}");
    }
}
