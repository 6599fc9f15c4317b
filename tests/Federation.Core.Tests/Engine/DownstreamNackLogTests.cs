using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A downstream that refuses everything for a while (a full stream or queue) is one failure episode: its nacks are logged
/// once at warning with the cause and no stack trace, the rest at debug, and once when the downstream has taken messages
/// again for the settle period (<see cref="LossEpisode.SettlePeriod"/>, 10 s of real time here, within the 30 s deadline).
/// (Without duplicate suppression, as on a JetStream downstream: with it, a refused unit fails the session without a 1005.)
/// </summary>
public sealed class DownstreamNackLogTests
{
    [Fact]
    public async Task Nacks_of_one_episode_are_logged_once_without_a_stack_trace_and_counted_when_it_ends()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        var engine = await bed.StartEngineAsync(
            "D",
            o => o.Upstream("u", "U", u => { u.Exchange = "upstream"; u.AckMode = AckMode.OnConfirm; u.DuplicateSuppression = false; u.ReconnectDelaySeconds = 0.1; u.ReconnectBackoff = ReconnectBackoffMode.Fixed; })
                .Policy("fed", "^fed\\.", upstream: "u"),
            loggerFactory: loggerFactory);
        await Testbed.DeclareExchangeAsync(await bed.ConnectAsync("D"), "fed.downstream");
        var queue = await bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        var refusing = true;
        var refused = 0;
        bed.Broker("D").PublishInterceptor = context =>
        {
            if (context.Exchange != "fed.downstream" || !Volatile.Read(ref refusing))
            {
                return PublishOutcome.Accept;
            }

            Interlocked.Increment(ref refused);
            return PublishOutcome.Nack;
        };

        var publisher = await bed.ConnectAsync("U");
        var expected = Enumerable.Range(0, 30).Select(i => $"m{i}").ToArray();
        foreach (var body in expected)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", body);
        }

        // Several sessions' worth of refusals: every message in flight, then the retries.
        await Testbed.Eventually(() => Volatile.Read(ref refused) >= 3 * expected.Length, () => $"{Volatile.Read(ref refused)} refusals");
        Volatile.Write(ref refusing, false);
        await Testbed.Eventually(() => queue.Bodies.Distinct().Count() == expected.Length, () => $"{queue.Bodies.Distinct().Count()} of {expected.Length}");
        await Testbed.Eventually(() => logs.WithId(1021).Count == 1, () => "the end of the episode logged");

        var warning = Assert.Single(logs.WithId(1005));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Null(warning.Exception);
        Assert.Contains("nack", warning.Message, StringComparison.OrdinalIgnoreCase);
        Assert.All(logs.WithId(1020), e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.True(logs.WithId(1020).Count >= (2 * expected.Length) - 1, $"{logs.WithId(1020).Count} refusals at debug");
        Assert.Contains("message(s) were refused", logs.WithId(1021)[0].Message, StringComparison.Ordinal);
        Assert.Equal(LinkState.Running, engine.GetLinks()[0].State);
    }
}
