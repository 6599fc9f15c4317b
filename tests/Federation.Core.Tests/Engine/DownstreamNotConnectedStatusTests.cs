using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Topology;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// <see cref="IFederationStatus"/> while the downstream is not connected, as library users read it: every link the engine
/// knows is listed from the first status request on, with the id it has or will have and the downstream's error (redacted)
/// as its <see cref="LinkStatus.Error"/>; the links the engine runs once the downstream is reached have those ids.
/// </summary>
public sealed class DownstreamNotConnectedStatusTests : IAsyncLifetime
{
    private const string Secret = "d0wnstream-pa55-never-shown";
    private const string NotConnected = "The downstream broker is not connected";
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task A_reload_to_an_unreachable_uri_of_the_same_downstream_keeps_every_link_listed_with_the_downstreams_error()
    {
        var engine = await _bed.StartEngineAsync("D", Configure);
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.orders");
        await Testbed.DeclareExchangeAsync(app, "fed.invoices");
        await Testbed.WaitForRunningLinksAsync(engine, 2);
        var ids = Ids(engine.GetLinks());

        // With a configured cluster name, the same vhost on another broker is the same downstream: the links keep their ids.
        await engine.UpdateAsync(Options($"memory://federator:{Secret}@missing-D/%2f"), CancellationToken.None);

        // Listed as soon as the reload is applied, before the first attempt at the new URI has failed.
        var listed = engine.GetLinks();
        Assert.Equal(ids, Ids(listed));
        Assert.All(listed, l => Assert.StartsWith(NotConnected, l.Error, StringComparison.Ordinal));
        await Testbed.Eventually(
            () => engine.GetLinks() is var links && Ids(links).SequenceEqual(ids)
                && links.All(l => l.State == LinkState.Starting && l.Error is { } e && e.StartsWith(NotConnected + ": ", StringComparison.Ordinal) && e.Contains("No in-memory broker named 'missing-D'", StringComparison.Ordinal)),
            () => $"every link listed with the downstream's error; have: {Describe(engine)}");
        Assert.False(engine.IsDownstreamConnected);
        Assert.DoesNotContain(Secret, Describe(engine), StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, engine.DownstreamError!, StringComparison.Ordinal);
        Assert.Equal("fed.orders", engine.FindLink(engine.GetLinks().Single(l => l.Exchange == "fed.orders").Id)?.Exchange);
        Assert.True(await engine.RestartLinkAsync(ids[0], CancellationToken.None)); // tries the downstream again at once

        await engine.UpdateAsync(Options(Testbed.Uri("D")), CancellationToken.None);
        await Testbed.WaitForRunningLinksAsync(engine, 2);
        Assert.Equal(ids, Ids(engine.GetLinks()));
        Assert.All(engine.GetLinks(), l => Assert.Null(l.Error));
    }

    [Fact]
    public async Task An_explicit_topology_lists_its_links_before_the_downstream_is_first_reached_with_the_ids_they_get()
    {
        var topology = new ExplicitTopology();
        topology.DeclareExchange(new ExchangeSpec("fed.orders", ExchangeSpec.Types.Topic));
        _bed.Broker("U");
        await using var engine = new FederationEngine(Options(Testbed.Uri("D")), [_bed.Transport], explicitTopology: topology);

        await engine.StartAsync(CancellationToken.None);

        await Testbed.Eventually(
            () => engine.GetLinks() is [{ Error: { } e }] && e.Contains("No in-memory broker named 'D'", StringComparison.Ordinal),
            () => $"the link with the downstream's error; have: {Describe(engine)}");
        var pending = Assert.Single(engine.GetLinks());
        Assert.Equal(("fed.orders", "u", "/", LinkState.Starting), (pending.Exchange, pending.Upstream, pending.VirtualHost, pending.State));
        Assert.StartsWith(NotConnected + ": ", pending.Error, StringComparison.Ordinal);

        _bed.Broker("D");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.Equal(pending.Id, engine.GetLinks().Single().Id);
        await engine.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Without_the_downstreams_exchanges_no_link_is_known_and_the_status_says_why()
    {
        // Observing the downstream's topology, the engine knows its exchanges only from the downstream itself.
        _bed.Broker("U");
        await using var engine = new FederationEngine(Options(Testbed.Uri("D")), [_bed.Transport]);

        await engine.StartAsync(CancellationToken.None);

        await Testbed.Eventually(() => engine.DownstreamError is not null, () => "the first attempt's failure");
        Assert.Empty(engine.GetLinks());
        Assert.Contains("No in-memory broker named 'D'", engine.DownstreamError, StringComparison.Ordinal);
        await engine.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_lost_downstream_leaves_no_link_listed_without_an_error()
    {
        var engine = await _bed.StartEngineAsync("D", Configure);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.orders");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var id = engine.GetLinks().Single().Id;

        // The link may notice the loss itself (its lease went with the connection) or not yet: either way its error says
        // first that the downstream is not connected, the cause an operator has to mend, and then its own, a consequence
        // (before 8 Dec 2026 a link with an error of its own showed only that: "The link lost its lease ...").
        _bed.Broker("D").Stop();
        await Testbed.Eventually(() => !engine.IsDownstreamConnected, () => "the downstream lost");
        await Testbed.Eventually(
            () => engine.GetLinks() is [{ State: LinkState.Error } link] && link.Error!.StartsWith(NotConnected, StringComparison.Ordinal) && link.Error.Contains("lost its lease", StringComparison.Ordinal),
            () => $"the link in error, the downstream's problem first and its own after it; have: {Describe(engine)}");
        for (var i = 0; i < 50 && !engine.IsDownstreamConnected; i++)
        {
            var link = Assert.Single(engine.GetLinks());
            Assert.Equal(id, link.Id);
            Assert.True(link.Error?.StartsWith(NotConnected, StringComparison.Ordinal) == true, $"{link.State}: {link.Error}");
            await Task.Yield();
        }

        _bed.Broker("D").Start();
        await Testbed.Eventually(
            () => engine.IsDownstreamConnected && engine.GetLinks() is [{ State: LinkState.Running, Error: null } link] && link.Id == id,
            () => $"the link running again without an error; have: {Describe(engine)}");
    }

    [Fact]
    public async Task A_reload_that_keeps_the_downstream_lists_the_exchanges_its_uri_names_now_not_the_old_sessions()
    {
        // NATS names its exchanges in the URI (`namespaces`): a reload that keeps the downstream but changes them, while the
        // downstream cannot be reached, lists the links the new URI asks for.
        var transport = new PreviewingTransport(_bed.Transport);
        _bed.Broker("U");
        _bed.Broker("D");
        await using var engine = new FederationEngine(Options(Testbed.Uri("D")), [transport]);
        await engine.StartAsync(CancellationToken.None);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.orders");
        await Testbed.WaitForRunningLinksAsync(engine, 1);

        transport.Exchanges = [new ExchangeSpec("fed.invoices", ExchangeSpec.Types.Topic)];
        await engine.UpdateAsync(Options("memory://federator:x@missing-D/%2f"), CancellationToken.None);

        await Testbed.Eventually(
            () => engine.GetLinks() is [{ Exchange: "fed.invoices", State: LinkState.Starting, Error: { } e }] && e.StartsWith(NotConnected, StringComparison.Ordinal),
            () => $"the link of the exchange the new URI names, with the downstream's error; have: {Describe(engine)}");
        await engine.StopAsync(CancellationToken.None);
    }

    /// <summary>The in-memory transport, with a preview that names exchanges as a NATS URI's <c>namespaces</c> do.</summary>
    private sealed class PreviewingTransport(ITransport inner) : ITransport
    {
        public IReadOnlyList<ExchangeSpec> Exchanges { get; set; } = [];

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) => inner.ConnectAsync(request, cancellationToken);

        public IReadOnlyList<string> ValidateUri(string uri) => inner.ValidateUri(uri);

        public IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings) => inner.ValidateUpstream(uri, settings);

        public TransportCapabilities Capabilities => inner.Capabilities;

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri) is { } preview ? preview with { Exchanges = Exchanges } : null;
    }

    private static void Configure(FederationOptions options)
    {
        options.ClusterName = "D";
        options.Upstream("u", "U").Policy("fed", "^fed\\.", upstream: "u");
    }

    private static FederationOptions Options(string downstreamUri)
    {
        var options = new FederationOptions { Downstream = { Uri = downstreamUri } };
        Configure(options);
        return options;
    }

    private static string[] Ids(IEnumerable<LinkStatus> links) => [.. links.Select(l => l.Id).Order(StringComparer.Ordinal)];

    private static string Describe(FederationEngine engine) =>
        string.Join("; ", engine.GetLinks().Select(l => $"{l.Id} {l.Exchange}<-{l.Upstream}:{l.State} {l.Error}"));
}
