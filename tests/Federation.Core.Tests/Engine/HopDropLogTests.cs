using Federation.Core.Hops;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>The debug line of a hop-rule drop (event 1004) gives the trail length the check used.</summary>
public sealed class HopDropLogTests
{
    [Fact]
    public async Task A_trail_of_entries_that_are_not_tables_is_logged_with_its_length()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        var engine = await bed.StartEngineAsync("D", o => o.Upstream("u", "U", u => u.MaxHops = 2).Policy("fed", "^fed$", upstream: "u"), loggerFactory: loggerFactory);
        await Testbed.DeclareExchangeAsync(await bed.ConnectAsync("D"), "fed");
        var queue = await bed.BindQueueAsync("D", "fed", "k");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await bed.WaitForBindingsAsync("U", "fed", "k", 1);
        var publisher = await bed.ConnectAsync("U");

        // Three elements, none a well-formed entry: every element counts toward max-hops, so the message is dropped.
        var malformed = new MessageProperties { Headers = new() { [HopHeaders.ReceivedFrom] = new List<object?> { "x", "y", "z" } } };
        await Testbed.PublishAsync(publisher, "fed", "k", "malformed-trail", malformed);
        await Testbed.PublishAsync(publisher, "fed", "k", "after");
        await queue.ExpectAsync("after");

        await Testbed.Eventually(() => logs.WithId(1004).Count == 1, () => "the drop was logged");
        Assert.Contains("x-received-from has 3 hop(s), max-hops 2", logs.WithId(1004)[0].Message, StringComparison.Ordinal);
    }
}
