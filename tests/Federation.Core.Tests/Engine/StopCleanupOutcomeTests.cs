using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A running link's clean stop says in event 1003 what became of its upstream objects: "deleted" only when they were. A
/// deletion the upstream refused used to be told as "deleted" right after its 1007, so an operator reading the stop took
/// the queue, which goes on filling, for gone.
/// </summary>
public sealed class StopCleanupOutcomeTests
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_stop_says_deleted_only_when_the_upstream_objects_were(bool refuseDeletion)
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        BeforeQueueDeletionTransport? transport = null;
        bed.WrapTransport = inner => transport = new BeforeQueueDeletionTransport(inner);
        var engine = await bed.StartEngineAsync(
            "D",
            o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"),
            loggerFactory: loggerFactory);
        var app = await bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        await bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var refusal = new InvalidOperationException("the upstream refused the deletion");
        if (refuseDeletion)
        {
            transport!.BeforeDeletion = _ => throw refusal;
        }

        await app.DeleteExchangeAsync("fed.downstream", CancellationToken.None);

        await Testbed.Eventually(() => logs.WithId(1003).Any(), () => "the link's stop finished (event 1003)");
        var stopped = Assert.Single(logs.WithId(1003));
        if (refuseDeletion)
        {
            // The cause in one line, without a stack trace, as every other warning about an operating condition (a
            // black-box run: a removed upstream whose vhost was gone logged 1007 with a stack trace of eight frames);
            // the exception goes to debug (1105).
            var failed = Assert.Single(logs.WithId(1007));
            Assert.Null(failed.Exception);
            Assert.Contains("(InvalidOperationException: the upstream refused the deletion)", failed.Message, StringComparison.Ordinal);
            Assert.Same(refusal, Assert.Single(logs.WithId(1105)).Exception);
            Assert.EndsWith("upstream objects kept (deleting them failed, see the warning before)", stopped.Message, StringComparison.Ordinal);
            Assert.True(bed.Broker("U").QueueExists("/", UpstreamQueue));
        }
        else
        {
            Assert.Empty(logs.WithId(1007));
            Assert.EndsWith("upstream objects deleted", stopped.Message, StringComparison.Ordinal);
            Assert.False(bed.Broker("U").QueueExists("/", UpstreamQueue));
        }
    }
}
