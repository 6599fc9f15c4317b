using System.Text;
using System.Text.RegularExpressions;
using Federation.Core.Links;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Exchange names near AMQP's 255-byte limit for names, on the in-memory broker, which enforces the limit as RabbitMQ's
/// clients do. The upstream queue keeps the plugin's name; the link's own names are shortened when they would not fit.
/// </summary>
public sealed class LongNameTests : IAsyncLifetime
{
    private const int MaxBytes = 255;
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task A_link_whose_upstream_queue_name_is_exactly_255_bytes_runs_and_forwards_with_its_own_names_shortened()
    {
        // "federation: X -> D": the plugin's queue name is exactly 255 bytes; " A", " sentinel" and the ledger's would not
        // fit unshortened (and the in-memory broker, like RabbitMQ's clients, refuses a name over the limit).
        var exchange = NameOfBytes(MaxBytes - Bytes("federation:  -> D"));
        var queueName = $"federation: {exchange} -> D";
        Assert.Equal(MaxBytes, Bytes(queueName));
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U").Policy("fed", "^" + Regex.Escape(exchange) + "$", upstream: "u"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), exchange);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("U"), exchange);
        var queue = await _bed.BindQueueAsync("D", exchange, "key", queue: "q-long");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", exchange, "key", 1);

        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), exchange, "key", "long-1");
        await queue.ExpectAsync("long-1");

        Assert.True(_bed.Broker("U").QueueExists("/", queueName));
        var upstreamNames = _bed.Broker("U").GetExchangeNames("/");
        Assert.Contains(UpstreamNaming.SentinelExchangeName(queueName), upstreamNames);
        Assert.Contains(upstreamNames, n => n == UpstreamNaming.InternalExchangeName(queueName, 'A') || n == UpstreamNaming.InternalExchangeName(queueName, 'B'));
        // The ledger (duplicate suppression is on by default) opened too: the broker refuses a name over the limit.
        Assert.True(Bytes(UpstreamNaming.LedgerName(exchange, "u", engine.GetLinks().Single().Id)) <= MaxBytes);
    }

    [Fact]
    public async Task A_link_whose_upstream_queue_name_would_be_over_255_bytes_is_in_error_naming_the_exchange_and_the_limit()
    {
        var exchange = NameOfBytes(240);
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.ReconnectDelaySeconds = 60).Policy("fed", "^fed\\.", upstream: "u"));
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), exchange);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.fine");

        LinkStatus? failed = null;
        await Testbed.Eventually(
            () => (failed = engine.GetLinks().FirstOrDefault(l => l.Exchange == exchange && l.State == LinkState.Error)) is not null,
            () => string.Join(", ", engine.GetLinks().Select(l => $"{l.Exchange}: {l.State} {l.Error}")));
        Assert.Contains($"'{exchange}'", failed!.Error, StringComparison.Ordinal);
        Assert.Contains("255 bytes", failed.Error, StringComparison.Ordinal);
        Assert.Contains(nameof(NameTooLongException), failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(_bed.Broker("U").GetQueueNames("/"), q => q.Contains(exchange, StringComparison.Ordinal));

        // The engine and its other links carry on.
        await Testbed.Eventually(
            () => engine.GetLinks().Any(l => l.Exchange == "fed.fine" && l.State == LinkState.Running),
            () => string.Join(", ", engine.GetLinks().Select(l => $"{l.Exchange}: {l.State} {l.Error}")));
    }

    /// <summary>A name of exactly <paramref name="bytes"/> bytes of UTF-8, mostly two-byte characters.</summary>
    private static string NameOfBytes(int bytes)
    {
        var name = new StringBuilder("fed.");
        while (Bytes(name.ToString()) + 2 <= bytes)
        {
            name.Append('é');
        }

        while (Bytes(name.ToString()) < bytes)
        {
            name.Append('x');
        }

        return name.ToString();
    }

    private static int Bytes(string text) => Encoding.UTF8.GetByteCount(text);
}
