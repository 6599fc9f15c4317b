using System.Text;
using Federation.Core.Links;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// Exchange names near AMQP's 255-byte limit for names (a short string of UTF-8). The upstream queue is named as the
/// plugin names it, <c>federation: X -> cluster</c>, and must stay so; the names that are ours (the internal exchanges,
/// the sentinel, the ledger) fall back to shorter stable ones when they would not fit, so the link runs whenever the
/// plugin's own name fits. When even that does not, the link says so in its status instead of failing obscurely.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class LongNameScenarioTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private const int MaxNameBytes = 255;
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task A_link_whose_upstream_queue_name_is_exactly_255_bytes_runs_and_forwards_with_duplicate_suppression()
    {
        // Two-byte characters, so that a count of characters instead of bytes would go wrong.
        var queueOverhead = Bytes($"federation:  -> {nodes.Downstream.ClusterName}");
        var exchange = NameOfBytes("fed.long.", MaxNameBytes - queueOverhead);
        var upstreamQueue = $"federation: {exchange} -> {nodes.Downstream.ClusterName}";
        Assert.Equal(MaxNameBytes, Bytes(upstreamQueue));
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        context.DeleteLater(nodes.Upstream, exchange);
        var probe = await context.BindQueueAsync(nodes.Downstream, exchange, "key");

        // The default ack mode (on-confirm) with duplicate suppression (the default): a ledger on the downstream too.
        var logs = new CapturedLogs();
        var engine = await context.StartEngineAsync(ScenarioContext.Options(nodes.Downstream, exchange, ("up", nodes.Upstream, null)), loggerFactory: logs);
        LinkStatus link;
        try
        {
            link = await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);
        }
        catch (TimeoutException)
        {
            throw new Xunit.Sdk.XunitException(logs.Text);
        }

        Assert.Null(link.Error);

        await Management.WaitAsync(() => Management.FederationKeysAsync(nodes.Upstream, exchange), keys => keys.SequenceEqual(["key"]), "the binding should propagate");
        var publisher = await context.ChannelAsync(nodes.Upstream);
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "long-1");
        await probe.ExpectAsync("long-1");

        // The plugin's queue name is kept as the plugin names it; the link's own objects exist under names that fit.
        Assert.Contains(upstreamQueue, await Management.NamesAsync(nodes.Upstream, "queues"));
        var ours = (await Management.NamesAsync(nodes.Upstream, "exchanges")).Where(n => n.StartsWith("federation: fed.long.", StringComparison.Ordinal)).ToList();
        Assert.Contains(ours, n => n.EndsWith(" sentinel", StringComparison.Ordinal));
        Assert.Contains(ours, n => n.EndsWith(" A", StringComparison.Ordinal) || n.EndsWith(" B", StringComparison.Ordinal));
        Assert.All(ours, n => Assert.True(Bytes(n) <= MaxNameBytes, n));
        var ledgers = (await Management.NamesAsync(nodes.Downstream, "queues")).Where(n => n.Contains(" ledger ", StringComparison.Ordinal) || n.StartsWith("federation: ledger", StringComparison.Ordinal)).ToList();
        Assert.Contains(ledgers, n => n.Contains(link.Id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_link_whose_upstream_queue_name_is_over_255_bytes_is_in_error_naming_the_exchange_and_the_limit()
    {
        // 240 bytes: a valid exchange name, but the plugin's queue name for it cannot be.
        var exchange = NameOfBytes("fed.toolong.", 240);
        var fine = ScenarioContext.UniqueName("fed.toolong.fine");
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        await context.DeclareExchangeAsync(nodes.Downstream, fine);
        context.DeleteLater(nodes.Upstream, fine);
        var options = ScenarioContext.Options(nodes.Downstream, exchange, ("up", nodes.Upstream, null));
        options.Policies["fed"].Pattern = $"^({System.Text.RegularExpressions.Regex.Escape(exchange)}|{System.Text.RegularExpressions.Regex.Escape(fine)})$";
        var engine = await context.StartEngineAsync(options);

        var failed = await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Error);
        Assert.Contains($"'{exchange}'", failed.Error, StringComparison.Ordinal);
        Assert.Contains("255 bytes", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("ArgumentException", failed.Error, StringComparison.Ordinal);

        // The engine and its other links carry on.
        await ScenarioContext.WaitForLinkAsync(engine, fine, LinkState.Running);
    }

    /// <summary>A unique name of exactly <paramref name="bytes"/> bytes of UTF-8, mostly two-byte characters.</summary>
    private static string NameOfBytes(string prefix, int bytes)
    {
        var name = new StringBuilder(ScenarioContext.UniqueName(prefix.TrimEnd('.'))).Append('.');
        while (Bytes(name.ToString()) + 2 <= bytes)
        {
            name.Append('é');
        }

        while (Bytes(name.ToString()) < bytes)
        {
            name.Append('x');
        }

        Assert.Equal(bytes, Bytes(name.ToString()));
        return name.ToString();
    }

    private static int Bytes(string text) => Encoding.UTF8.GetByteCount(text);
}
