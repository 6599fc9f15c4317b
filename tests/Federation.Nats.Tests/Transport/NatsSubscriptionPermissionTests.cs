using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Nats.Tests.Security;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

/// <summary>
/// A subscription the server refuses (the user lacks subscribe permission) is not a silent, healthy-looking nothing:
/// nats-server answers the SUB with a permissions violation and keeps the connection open, and the client keeps the
/// subscription as if active. The link fails, saying which subject the server refused and why, without credentials, and
/// retries on its reconnect schedule; a subject connection closes with the same reason.
/// </summary>
public sealed class NatsSubscriptionPermissionTests : IAsyncLifetime
{
    private const string User = "linkuser";
    private const string Password = "Pa55-subscribe-secret";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("nats-sub-permission-").FullName;
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        var config = Path.Combine(_directory, "upstream.conf");
        await File.WriteAllTextAsync(config, $$"""
            authorization {
              users = [
                { user: "{{User}}", password: "{{Password}}", permissions: { subscribe: { deny: ["orders", "orders.>", "denied.>"] } } }
                { user: "publisher", password: "publisher" }
              ]
            }
            """ + "\n");
        _upstream = await NatsServerProcess.StartAsync("-n", "perm-a", "-c", config);
        _downstream = await NatsServerProcess.StartAsync("-n", "perm-b");
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_link_whose_upstream_user_may_not_subscribe_fails_naming_the_subject_and_retries()
    {
        using var logs = new CapturingLoggerFactory();
        var options = new FederationOptions { Downstream = { Uri = Uri(_downstream, "B") } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { $"nats://{User}:{Password}@127.0.0.1:{_upstream.Port.ToString(CultureInfo.InvariantCulture)}?cluster-name=A&monitor-port={_upstream.MonitorPort.ToString(CultureInfo.InvariantCulture)}&namespaces=orders" }, ReconnectDelaySeconds = 0.2, ReconnectDelayMaxSeconds = 0.2 };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new NatsTransport()], logs);
        await engine.StartAsync(CancellationToken.None);

        // Interest on the downstream makes the link bind upstream, which is the subscription the server refuses.
        await using var subscriber = new NatsConnection(NatsOpts.Default with { Url = _downstream.Url });
        await using var subscription = await subscriber.SubscribeCoreAsync<byte[]>("orders.>");
        await subscriber.PingAsync();

        var errors = new HashSet<DateTimeOffset>();
        LinkStatus? failed = null;
        await PollAsync(
            () =>
            {
                if (engine.GetLinks() is [{ State: LinkState.Error } link])
                {
                    failed = link;
                    errors.Add(link.Since);
                }

                return errors.Count >= 2; // failed, retried, and failed again: on its schedule, not given up
            },
            () => $"the link failing twice (now: {string.Join(", ", engine.GetLinks().Select(l => $"{l.State} {l.Error}"))})");

        Assert.NotNull(failed);
        Assert.Contains("refused the subscription to 'orders", failed.Error, StringComparison.Ordinal);
        Assert.Contains("permissions violation", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, failed.Error, StringComparison.Ordinal);
        Assert.Contains("refused the subscription to 'orders", logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_subject_connection_whose_subscription_is_refused_closes_with_the_reason()
    {
        using var logs = new CapturingLoggerFactory();
        var transport = new NatsSubjectTransport(logs);
        await using var connection = await transport.ConnectAsync(
            new SubjectConnectionRequest($"nats://{User}:{Password}@127.0.0.1:{_upstream.Port.ToString(CultureInfo.InvariantCulture)}", "perm-test"),
            CancellationToken.None);

        try
        {
            await using var refused = await connection.SubscribeAsync("denied.requests", queueGroup: null, (_, _) => ValueTask.CompletedTask, CancellationToken.None);
        }
        catch (ConnectionLostException)
        {
            // the refusal may already have closed the connection while the subscription waited for the server
        }

        var error = await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(Deadline));
        Assert.Contains("refused the subscription to 'denied.requests'", error.Message, StringComparison.Ordinal);
        Assert.Contains("permissions violation", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.Message, StringComparison.Ordinal);
        Assert.Contains("refused the subscription to 'denied.requests'", logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, logs.Text, StringComparison.Ordinal);
    }

    private static string Uri(NatsServerProcess server, string cluster) =>
        $"{server.Url}?cluster-name={cluster}&monitor-port={server.MonitorPort.ToString(CultureInfo.InvariantCulture)}&monitor-interval-ms=50&namespaces=orders";

    private static async Task PollAsync(Func<bool> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out waiting for " + describe());
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }
}
