using System.Globalization;
using System.Text;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Nats.Tests.Security;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// A publish the downstream server refuses (the link's user lacks publish permission on that subject) is not counted as
/// forwarded: nats-server drops the message with an error of its own and keeps the connection open, and a publish
/// confirm still succeeds. The link counts each such message as <c>downstream_rejected</c>, says which subject and why
/// (without credentials), and goes on with the subjects it may publish to.
/// </summary>
public sealed class NatsPublishPermissionTests : IAsyncLifetime
{
    private const string User = "linkuser";
    private const string Password = "Pa55-publish-secret";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("nats-pub-permission-").FullName;
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        var config = Path.Combine(_directory, "downstream.conf");
        await File.WriteAllTextAsync(config, $$"""
            authorization {
              users = [
                { user: "{{User}}", password: "{{Password}}", permissions: { publish: { deny: ["orders.denied", "orders.denied.>"] } } }
                { user: "watcher", password: "watcher" }
              ]
            }
            """ + "\n");
        _upstream = await NatsServerProcess.StartAsync("-n", "pub-a");
        _downstream = await NatsServerProcess.StartAsync("-n", "pub-b", "-c", config);
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(AckMode.OnConfirm)]
    [InlineData(AckMode.NoAck)]
    public async Task A_message_the_downstream_refuses_to_take_is_counted_as_rejected_and_the_link_goes_on(AckMode ackMode)
    {
        using var logs = new CapturingLoggerFactory();
        var port = _downstream.Port.ToString(CultureInfo.InvariantCulture);
        var monitor = _downstream.MonitorPort.ToString(CultureInfo.InvariantCulture);
        var options = new FederationOptions { Downstream = { Uri = $"nats://{User}:{Password}@127.0.0.1:{port}?cluster-name=B&monitor-port={monitor}&monitor-interval-ms=50&namespaces=orders" } };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{_upstream.Url}?cluster-name=A&monitor-port={_upstream.MonitorPort.ToString(CultureInfo.InvariantCulture)}&namespaces=orders" },
            AckMode = ackMode,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()], logs);
        await engine.StartAsync(CancellationToken.None);

        await using var watcher = new NatsConnection(NatsOpts.Default with { Url = _downstream.Url, AuthOpts = NatsAuthOpts.Default with { Username = "watcher", Password = "watcher" } });
        await using var subscription = await watcher.SubscribeCoreAsync<byte[]>("orders.>");
        await watcher.PingAsync();
        await using var publisher = new NatsConnection(NatsOpts.Default with { Url = _upstream.Url });

        // Until the link has bound upstream, publishes there are dropped: publish probes until one arrives.
        var arrived = new List<string>();
        using (var probing = new CancellationTokenSource(Deadline))
        {
            while (arrived.Count == 0)
            {
                await publisher.PublishAsync("orders.probe", Encoding.UTF8.GetBytes("probe"), cancellationToken: probing.Token);
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(probing.Token);
                wait.CancelAfter(TimeSpan.FromMilliseconds(200));
                try
                {
                    var message = await subscription.Msgs.ReadAsync(wait.Token);
                    arrived.Add(message.Subject);
                }
                catch (OperationCanceledException) when (!probing.IsCancellationRequested)
                {
                }
            }
        }

        await publisher.PublishAsync("orders.denied.1", Encoding.UTF8.GetBytes("denied"));
        await publisher.PublishAsync("orders.ok.1", Encoding.UTF8.GetBytes("ok"));
        await publisher.PingAsync();

        using var reading = new CancellationTokenSource(Deadline);
        while (!arrived.Contains("orders.ok.1"))
        {
            arrived.Add((await subscription.Msgs.ReadAsync(reading.Token)).Subject);
        }

        var deadline = DateTime.UtcNow + Deadline;
        LinkStatus link;
        while ((link = Assert.Single(engine.GetLinks())).DroppedMessages?.GetValueOrDefault("downstream_rejected") != 1)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the refused message should be counted: {link.State} {link.Error} dropped {string.Join(",", link.DroppedMessages ?? new Dictionary<string, long>())}");
            await Task.Delay(20);
        }

        Assert.DoesNotContain("orders.denied.1", arrived);
        Assert.Equal(LinkState.Running, link.State);
        Assert.Contains("refused publishing to 'orders.denied.1'", logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, logs.Text, StringComparison.Ordinal);
    }
}
