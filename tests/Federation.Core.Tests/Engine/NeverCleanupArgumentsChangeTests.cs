using Federation.Core.Model;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// With <c>resource-cleanup-mode: never</c>, a reload that changes the upstream queue's declared arguments keeps the old
/// queue, which the upstream then refuses to declare again with the new ones: the warning says so, instead of claiming the
/// queue is deleted (event 2020, "deleted (unless resource-cleanup-mode is never)"), which a black-box run found misleading
/// next to links that then failed with 406 for good.
/// </summary>
public sealed class NeverCleanupArgumentsChangeTests : IAsyncLifetime
{
    private const int KeptQueueRefusesNewArguments = 2042;
    private const int QueueDeletedOnRestart = 2020;
    private readonly Testbed _bed = new();
    private readonly CapturingLoggerProvider _logs = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _bed.DisposeAsync();
        _logs.Dispose();
    }

    private static Action<UpstreamDefinition> Configure(long? messageTtl) => u =>
    {
        u.Exchange = "upstream";
        u.ResourceCleanupMode = ResourceCleanupMode.Never;
        u.MessageTtl = messageTtl;
    };

    private static FederationOptions Options(long? messageTtl) =>
        new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }.Upstream("u", "U", Configure(messageTtl)).Policy("fed", "^fed\\.", upstream: "u");

    [Fact]
    public async Task A_new_message_ttl_keeps_the_queue_and_the_warning_says_the_upstream_will_refuse_it()
    {
        var engine = await _bed.StartEngineAsync("D", o => o.Upstream("u", "U", Configure(messageTtl: null)).Policy("fed", "^fed\\.", upstream: "u"), loggerFactory: _logs.AsFactory());
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var queues = _bed.Broker("U").GetQueueNames("/").Where(n => n.StartsWith("federation: ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(queues);

        await engine.UpdateAsync(Options(messageTtl: 60_000), CancellationToken.None);

        var warning = Assert.Single(_logs.WithId(KeptQueueRefusesNewArguments));
        Assert.Contains("x-message-ttl none -> 60000", warning.Message, StringComparison.Ordinal);
        Assert.Contains("406", warning.Message, StringComparison.Ordinal);
        Assert.Empty(_logs.WithId(QueueDeletedOnRestart));
        Assert.Equal(queues, _bed.Broker("U").GetQueueNames("/").Where(n => n.StartsWith("federation: ", StringComparison.Ordinal)).ToList());
    }
}
