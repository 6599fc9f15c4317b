using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A downstream that refuses everything for a while (a full stream or queue) is one failure episode: its nacks are logged
/// once at warning with the cause and no stack trace, the rest at debug, and once when the downstream has taken messages
/// again for the settle period (<see cref="LossEpisode.SettlePeriod"/>, on a fake clock here).
/// (Without duplicate suppression, as on a JetStream downstream: with it, a refused unit fails the session without a 1005.)
/// </summary>
public sealed class DownstreamNackLogTests
{
    [Fact]
    public async Task Nacks_of_one_episode_are_logged_once_without_a_stack_trace_and_counted_when_it_ends()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        var time = new FakeTimeProvider();
        await using var bed = new Testbed();
        var engine = await bed.StartEngineAsync(
            "D",
            o => o.Upstream("u", "U", u => { u.Exchange = "upstream"; u.AckMode = AckMode.OnConfirm; u.DuplicateSuppression = false; u.ReconnectDelaySeconds = 0.1; u.ReconnectBackoff = ReconnectBackoffMode.Fixed; })
                .Policy("fed", "^fed\\.", upstream: "u"),
            loggerFactory: loggerFactory,
            time: time);
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
        var step = TimeSpan.FromMilliseconds(100);
        await time.AdvanceUntilAsync(() => Volatile.Read(ref refused) >= 3 * expected.Length, TimeSpan.FromSeconds(30), () => $"{Volatile.Read(ref refused)} refusals", step);
        Volatile.Write(ref refusing, false);
        await time.AdvanceUntilAsync(() => queue.Bodies.Distinct().Count() == expected.Length, TimeSpan.FromSeconds(30), () => $"{queue.Bodies.Distinct().Count()} of {expected.Length}", step);

        // The episode ends on the settle timer, not at the first forward after it: nothing until the period has passed.
        var delivered = time.GetUtcNow();
        Assert.Empty(logs.WithId(1021));
        await time.AdvanceUntilAsync(() => logs.WithId(1021).Count == 1, LossEpisode.SettlePeriod + TimeSpan.FromSeconds(1), () => "the end of the episode logged", step);
        Assert.True(time.GetUtcNow() - delivered >= LossEpisode.SettlePeriod - TimeSpan.FromSeconds(1), $"ended {(time.GetUtcNow() - delivered).TotalSeconds} s (fake) after the last delivery");

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
