using Federation.Core.InMemory;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Xunit;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A downstream that refuses the link's first publish of every run, a while after the run started (a full JetStream stream
/// answers a second or more after the link starts): the run reached running and lasted the reconnect delay, so it counted as
/// progress, and every attempt warned again (1002) and retried at once. A black-box run with <c>reconnect-delay: 1</c> logged
/// 27 warnings in 35 s, the status reading <c>running</c> most of the time. A refusal in a run that forwarded nothing is now
/// the same episode: one warning, and the reconnect schedule goes on.
/// </summary>
public sealed class RefusalWithoutProgressTests : IAsyncLifetime
{
    // What the downstream takes to refuse: longer than the reconnect delay, as a JetStream PubAck's round trip can be.
    private static readonly TimeSpan RefusalLatency = TimeSpan.FromMilliseconds(300);
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Fact]
    public async Task A_downstream_that_refuses_each_run_s_first_publish_after_the_reconnect_delay_is_one_failure_episode()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", u =>
        {
            u.Exchange = "upstream";
            u.ReconnectDelaySeconds = 0.1;
            u.ReconnectBackoff = ReconnectBackoffMode.Fixed;
            u.DuplicateSuppression = false;
        }).Policy("fed", "^fed\\.", upstream: "u"), loggerFactory: loggerFactory);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var queue = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        var refusing = true;
        _bed.Broker("D").PublishInterceptor = context =>
        {
            if (context.Exchange != "fed.downstream" || !Volatile.Read(ref refusing))
            {
                return PublishOutcome.Accept;
            }

            // The broker's answer takes this long; the interceptor stands for the broker, so it blocks as a round trip would.
            Thread.Sleep(RefusalLatency);
            return PublishOutcome.Nack;
        };
        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "m1");

        // Four attempts in a row, each refused after it ran longer than the reconnect delay.
        await Testbed.Eventually(() => logs.WithId(1008).Count >= 4, () => $"{logs.WithId(1008).Count} failed attempts", TimeSpan.FromSeconds(30));
        Assert.Single(logs.WithId(1002));

        Volatile.Write(ref refusing, false);
        await Testbed.Eventually(() => queue.Bodies.Count == 1, () => $"{queue.Bodies.Count} arrived", TimeSpan.FromSeconds(30));
        await Testbed.Eventually(() => engine.GetLinks()[0].State == LinkState.Running, () => engine.GetLinks()[0].State.ToString());
        Assert.Equal(["m1"], queue.Bodies);
    }
}
