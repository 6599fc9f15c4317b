using System.Diagnostics;
using System.Globalization;
using Federation.Core.Transport;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A management API that takes the connection and never answers (a hung node, a proxy that holds requests, another
/// service on the port) fails each call after <c>management-timeout</c>, naming it, and never holds up a cancellation.
/// Needs no broker: a <see cref="SilentPeer"/> plays the API.
/// </summary>
public sealed class SilentManagementApiTests
{
    private const string Password = "S3cret-mgmt-4b2d";

    [Fact]
    public async Task A_call_the_api_never_answers_fails_after_the_management_timeout_naming_it_without_the_password()
    {
        await using var peer = new SilentPeer();
        using var management = new ManagementApi(AmqpEndpoint.Parse(
            $"amqp://user:{Password}@127.0.0.1:5672/?management-port={peer.Port.ToString(CultureInfo.InvariantCulture)}&management-timeout=500"));
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await management.DeclareExchangeAsync(new ExchangeSpec("x", ExchangeSpec.Types.Fanout, Internal: true), CancellationToken.None));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.4), TimeSpan.FromSeconds(10));
        Assert.Contains($"The RabbitMQ management API at http://127.0.0.1:{peer.Port} did not answer within 0.5 s", error.Message, StringComparison.Ordinal);
        Assert.Contains("management-timeout", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_call_the_api_never_answers_ends_at_once_when_cancelled()
    {
        await using var peer = new SilentPeer();
        using var management = new ManagementApi(AmqpEndpoint.Parse(
            $"amqp://user:{Password}@127.0.0.1:5672/?management-port={peer.Port.ToString(CultureInfo.InvariantCulture)}&management-timeout=120000"));
        using var cancel = new CancellationTokenSource();
        var reading = management.ReadTopologyAsync(cancel.Token);
        await Poll.UntilAsync(() => Task.FromResult(peer.Accepted > 0 ? (object?)true : null), "the request reaches the silent API");
        var clock = Stopwatch.StartNew();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5));
    }
}

/// <summary>
/// The engine with a real upstream node whose management API is a silent peer: the link's internal exchanges are declared
/// through that API, so the link must leave <c>starting</c> for <c>error</c> after one <c>management-timeout</c>, retry, and
/// stop promptly while a call hangs.
/// </summary>
[Collection(ContractNodeCollection.Name)]
public sealed class SilentManagementApiEngineTests(RabbitMqNodeFixture fixture)
{
    private static readonly TimeSpan Promptly = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task An_upstream_whose_management_api_never_answers_puts_its_link_in_error_naming_the_timeout_and_retries()
    {
        await using var peer = new SilentPeer();
        var (engine, downstream) = await StartAsync(peer, managementTimeoutMilliseconds: 1000);
        await using (engine)
        await using (downstream)
        {
            var clock = Stopwatch.StartNew();
            var link = await Poll.UntilAsync(
                () => Task.FromResult(engine.GetLinks() is [{ State: Federation.Core.Links.LinkState.Error } failed] ? failed : null),
                "the link goes to error",
                TimeSpan.FromSeconds(20));

            // One timeout, not one per management call (the sentinel's declare used to be waited out, then the internal exchange's).
            Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(8));
            Assert.Contains($"did not answer within 1 s", link.Error, StringComparison.Ordinal);
            Assert.Contains("management-timeout", link.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("guest:guest", link.ToString(), StringComparison.Ordinal);

            // Retried with the link's backoff (reconnect-delay 0.2 s here): the silent API is asked again.
            var first = peer.Accepted;
            await Poll.UntilAsync(() => Task.FromResult(peer.Accepted > first ? (object?)true : null), "the link tries again");
            await engine.StopAsync(CancellationToken.None).WaitAsync(Promptly);
        }
    }

    [Fact]
    public async Task Stop_is_prompt_while_a_management_call_hangs()
    {
        await using var peer = new SilentPeer();
        var (engine, downstream) = await StartAsync(peer, managementTimeoutMilliseconds: 120_000);
        await using (engine)
        await using (downstream)
        {
            await Poll.UntilAsync(() => Task.FromResult(peer.Accepted > 0 ? (object?)true : null), "a management call is in flight");
            Assert.Equal(Federation.Core.Links.LinkState.Starting, Assert.Single(engine.GetLinks()).State);

            await engine.StopAsync(CancellationToken.None).WaitAsync(Promptly);
        }
    }

    private async Task<(Federation.Core.FederationEngine Engine, IBrokerConnection Downstream)> StartAsync(SilentPeer peer, int managementTimeoutMilliseconds)
    {
        var registry = new Federation.Core.InMemory.InMemoryBrokerRegistry();
        var downstream = registry.GetOrAdd("d", "d");
        var options = new Federation.Core.Model.FederationOptions { Downstream = { Uri = "memory://d/%2f" } };
        var exchange = "silent-mgmt-" + Guid.NewGuid().ToString("N")[..8];
        var node = fixture.Node;
        options.Upstreams["hung-api"] = new Federation.Core.Model.UpstreamDefinition
        {
            Uris = { $"amqp://guest:guest@127.0.0.1:{node.AmqpPort.ToString(CultureInfo.InvariantCulture)}/%2f?management-port={peer.Port.ToString(CultureInfo.InvariantCulture)}&management-timeout={managementTimeoutMilliseconds.ToString(CultureInfo.InvariantCulture)}" },
            ReconnectDelaySeconds = 0.2,
        };
        options.Policies["fed"] = new Federation.Core.Model.FederationPolicy
        {
            Pattern = "^" + exchange + "$",
            Definition = new Federation.Core.Model.FederationPolicyDefinition { FederationUpstream = "hung-api" },
        };
        var engine = new Federation.Core.FederationEngine(options, [new Federation.Core.InMemory.InMemoryTransport(registry), new AmqpTransport()]);
        await engine.StartAsync(CancellationToken.None);
        var app = await downstream.ConnectAsync();
        await app.DeclareExchangeAsync(new ExchangeSpec(exchange, ExchangeSpec.Types.Topic), CancellationToken.None);
        return (engine, app);
    }
}
