using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Nats.Tests.Security;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Leases;

/// <summary>
/// A JetStream server that does not answer the lease bucket lookup when a connection opens (here: the user may not use
/// the JetStream API until the operator reloads the configuration; after a restart, 503 "JetStream temporarily
/// unavailable" does the same) must not give a connection without leases: its links would run unfenced for the
/// connection's whole life, on every host that connected in that window. The leases are offered, their attempts fail
/// until the server answers, and then succeed on the same connection.
/// </summary>
public sealed class NatsLeaseLookupFailureTests : IAsyncLifetime
{
    private const string User = "fed";
    private const string Password = "fed-lookup-secret";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(40);
    private readonly string _directory = Directory.CreateTempSubdirectory("nats-lease-lookup-").FullName;
    private NatsServerProcess _server = null!;

    private string ConfigFile => Path.Combine(_directory, "server.conf");

    public async Task InitializeAsync()
    {
        await WriteConfigAsync(jetStreamAllowed: false);
        _server = await NatsServerProcess.StartAsync("-c", ConfigFile);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_JetStream_server_that_does_not_answer_the_lookup_still_offers_leases_which_work_once_it_answers()
    {
        using var logs = new CapturingLoggerFactory();
        var transport = new NatsTransport(null, logs);
        await using var connection = await transport.ConnectAsync(
            new ConnectionRequest($"nats://{User}:{Password}@127.0.0.1:{_server.Port}?lease-bucket=fenced&connect-timeout-ms=1000", "lease-lookup"),
            default);

        var leases = connection.Leases;
        Assert.NotNull(leases); // not "no leases": that would run every link of this connection without one
        Assert.DoesNotContain("offers no link leases", logs.Text, StringComparison.Ordinal);
        var refused = await Assert.ThrowsAnyAsync<TransportException>(async () => await leases.TryAcquireAsync(new LeaseRequest("link", "host-a"), default));
        Assert.Contains("fenced", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, refused.Message, StringComparison.Ordinal);

        await WriteConfigAsync(jetStreamAllowed: true);
        await _server.ReloadAsync();
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            try
            {
                var attempt = await leases.TryAcquireAsync(new LeaseRequest("link", "host-a"), default);
                Assert.True(attempt.Acquired, $"held by {attempt.Holder}");
                break;
            }
            catch (TransportException) when (DateTime.UtcNow < until)
            {
                // The reload is applied in the background: each attempt waits for its own answer, so no pause is needed.
            }
        }

        Assert.False(connection.Completion.IsCompleted);
    }

    [Fact]
    public async Task Links_do_not_run_without_a_lease_while_the_lookup_fails_and_run_with_one_once_it_answers()
    {
        await using var upstream = await NatsServerProcess.StartAsync("-n", "lookup-up");
        using var logs = new CapturingLoggerFactory();
        var options = new FederationOptions { Downstream = { Uri = $"nats://{User}:{Password}@127.0.0.1:{_server.Port}?cluster-name=DOWN&namespaces=orders&lease-bucket=fenced&connect-timeout-ms=1000" } };
        options.Upstreams["up"] = new UpstreamDefinition
        {
            Uris = { $"{upstream.Url}?cluster-name=UP" },
            ReconnectDelaySeconds = 0.2,
            ReconnectBackoff = ReconnectBackoffMode.Fixed,
        };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        await using var engine = new FederationEngine(options, [new NatsTransport(null, logs)], logs);
        await engine.StartAsync(CancellationToken.None);

        await EventuallyAsync(() => engine.GetLinks() is [{ State: LinkState.Error, Error: { } error }] && error.Contains("fenced", StringComparison.Ordinal), engine);
        Assert.Equal(LinkState.Error, Assert.Single(engine.GetLinks()).State); // never Running: no lease, no run
        Assert.DoesNotContain("offers no link leases", logs.Text, StringComparison.Ordinal);

        await WriteConfigAsync(jetStreamAllowed: true);
        await _server.ReloadAsync();
        await EventuallyAsync(() => engine.GetLinks() is [{ State: LinkState.Running, LeaseHolder: not null }], engine);
    }

    private static async Task EventuallyAsync(Func<bool> condition, FederationEngine engine)
    {
        var until = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, string.Join(", ", engine.GetLinks().Select(l => $"{l.Id} {l.State} {l.Error} holder {l.LeaseHolder}")));
            await Task.Delay(TimeSpan.FromMilliseconds(50)); // between two checks of a deadline-bounded poll
        }
    }

    private Task WriteConfigAsync(bool jetStreamAllowed)
    {
        var store = Path.Combine(_directory, "store").Replace("\\", "/", StringComparison.Ordinal);
        var permissions = jetStreamAllowed ? "" : """, permissions: { publish: { deny: ["$JS.API.>"] } }""";
        // The name is in the file, not -n: nats-server refuses a reload that would change it.
        return File.WriteAllTextAsync(ConfigFile, $$"""
            server_name: "lease-lookup"
            jetstream { store_dir: "{{store}}" }
            authorization {
              users = [
                { user: "{{User}}", password: "{{Password}}"{{permissions}} }
              ]
            }
            """ + "\n");
    }
}
