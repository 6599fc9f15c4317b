using System.Diagnostics;
using Federation.Core.Transport;
using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>A peer that accepts TCP and never answers must fail a connect attempt by its deadline. Needs no broker.</summary>
public sealed class SilentPeerTests
{
    [Fact]
    public async Task Connect_ToAPeerThatNeverAnswers_FailsByTheConnectionTimeout()
    {
        await using var peer = new SilentPeer();
        var transport = new AmqpTransport();
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest($"amqp://u:s3cr3t@127.0.0.1:{peer.Port}/%2f?connection_timeout=2000", "silent"), CancellationToken.None));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(15));
        Assert.Contains("timed out", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("s3cr3t", error.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>The engine over the AMQP transport, with a silent peer as upstream or downstream. Needs no broker.</summary>
public sealed class SilentPeerEngineTests
{
    private static readonly TimeSpan Promptly = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task An_upstream_that_never_answers_puts_its_link_in_error_naming_the_timeout()
    {
        await using var peer = new SilentPeer();
        var registry = new Federation.Core.InMemory.InMemoryBrokerRegistry();
        var downstream = registry.GetOrAdd("d", "d");
        var options = new Federation.Core.Model.FederationOptions { Downstream = { Uri = "memory://d/%2f" } };
        options.Upstreams["silent"] = new Federation.Core.Model.UpstreamDefinition { Uris = { $"amqp://u:s3cr3t@127.0.0.1:{peer.Port}/%2f?connection_timeout=1000" } };
        options.Policies["fed"] = new Federation.Core.Model.FederationPolicy
        {
            Pattern = "^fed$",
            Definition = new Federation.Core.Model.FederationPolicyDefinition { FederationUpstream = "silent" },
        };
        await using var engine = new Federation.Core.FederationEngine(options, [new Federation.Core.InMemory.InMemoryTransport(registry), new AmqpTransport()]);
        await engine.StartAsync(CancellationToken.None);
        await using var app = await downstream.ConnectAsync();
        await app.DeclareExchangeAsync(new ExchangeSpec("fed", ExchangeSpec.Types.Topic), CancellationToken.None);

        var link = await Poll.UntilAsync(
            () => Task.FromResult(engine.GetLinks() is [{ State: Federation.Core.Links.LinkState.Error } failed] ? failed : null),
            "the link goes to error");

        Assert.Contains($"amqp://127.0.0.1:{peer.Port}/%2f", link.Error, StringComparison.Ordinal);
        Assert.Contains("timed out after 1 s", link.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", link.ToString(), StringComparison.Ordinal);
        await engine.StopAsync(CancellationToken.None).WaitAsync(Promptly);
    }

    [Fact]
    public async Task A_downstream_that_never_answers_times_out_is_retried_and_does_not_hold_up_stop()
    {
        await using var peer = new SilentPeer();
        var options = new Federation.Core.Model.FederationOptions { Downstream = { Uri = $"amqp://u:s3cr3t@127.0.0.1:{peer.Port}/%2f?connection_timeout=1000" } };
        await using var engine = new Federation.Core.FederationEngine(options, [new AmqpTransport()]);
        await engine.StartAsync(CancellationToken.None);

        // The first attempt times out after 1 s; the supervisor retries 5 s later.
        await Poll.UntilAsync(() => Task.FromResult(peer.Accepted >= 2 ? (object?)true : null), "a second downstream attempt");
        Assert.False(engine.IsDownstreamConnected);

        await engine.StopAsync(CancellationToken.None).WaitAsync(Promptly);
    }
}
