using System.Text;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// A message the upstream took but whose body is over the downstream broker's <c>max_message_size</c>. Treated as a
/// failed publish, it restarted the link, came back first from the upstream queue, failed again, and held every message
/// behind it for good. Now the downstream refuses it as too large: it is rejected upstream without requeueing, counted as
/// <c>too_large</c>, and the link goes on with the messages behind it, on both publish paths.
/// </summary>
public sealed class OverMaxMessageSizeTests : IAsyncLifetime
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";
    private const int Limit = 64;

    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Theory]
    [InlineData(true)]   // the ledger's units
    [InlineData(false)]  // the confirming publisher
    public async Task A_message_over_the_downstream_limit_is_refused_and_the_messages_behind_it_arrive_in_order(bool duplicateSuppression)
    {
        _bed.Broker("D").MaxMessageSize = Limit;
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u =>
        {
            u.AckMode = AckMode.OnConfirm;
            u.DuplicateSuppression = duplicateSuppression;
            u.ReconnectDelaySeconds = 0.1;
        });
        var running = Assert.Single(engine.GetLinks());

        var upstream = await _bed.ConnectAsync("U");
        await using (var publisher = await upstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None))
        {
            // Published back to back, so that on the ledger path the big one usually shares a unit with others.
            var published = new List<Task>();
            for (var i = 0; i < 10; i++)
            {
                var body = i == 4 ? "BIG" + new string('x', Limit) : $"m{i}";
                published.Add(publisher.PublishAsync("upstream", "key", new MessageProperties { MessageId = $"id-{i}" }, Encoding.UTF8.GetBytes(body), CancellationToken.None).AsTask());
            }

            await Task.WhenAll(published);
        }

        string[] expected = [.. Enumerable.Range(0, 10).Where(i => i != 4).Select(i => $"m{i}")];
        await Testbed.Eventually(() => queue.Count >= expected.Length, () => $"received [{string.Join(",", queue.Bodies)}]; link {Describe(engine)}");
        await Testbed.Eventually(() => _bed.Broker("U").GetMessageCount("/", UpstreamQueue) == 0, () => "the upstream queue should be empty: the big message is rejected, not requeued");
        await queue.ExpectNoMoreThanAsync(expected.Length);
        Assert.Equal(expected, queue.Bodies);

        var link = Assert.Single(engine.GetLinks());
        Assert.Equal(1, link.DroppedMessages?.GetValueOrDefault("too_large"));
        // It never restarted: the refusal settled the one message and nothing else.
        Assert.Equal(LinkState.Running, link.State);
        Assert.Equal(running.Since, link.Since);
    }

    /// <summary>
    /// Too-large messages among small ones: each refusal used to open a loss episode of its own (a 1011 warning) and the next
    /// forwarded message end it (1012), a pair of lines per message. Now they are one episode, counted exactly, which ends
    /// when the link has forwarded for the settle period without a loss or, as here, when the link stops.
    /// </summary>
    [Fact]
    public async Task Too_large_messages_among_small_ones_are_one_loss_episode_which_ends_when_the_link_stops()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        _bed.Broker("D").MaxMessageSize = Limit;
        var engine = await _bed.StartEngineAsync(
            "D",
            o => o.Upstream("u", "U", u => { u.Exchange = "upstream"; u.AckMode = AckMode.OnConfirm; u.DuplicateSuppression = false; })
                .Policy("fed", "^fed\\.", upstream: "u"),
            loggerFactory: loggerFactory);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed.downstream");
        var queue = await _bed.BindQueueAsync("D", "fed.downstream", "key");
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        await _bed.WaitForBindingsAsync("U", "upstream", "key", 1);

        var upstream = await _bed.ConnectAsync("U");
        await using (var publisher = await upstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None))
        {
            var published = new List<Task>();
            for (var i = 0; i < 20; i++)
            {
                var body = i % 2 == 0 ? $"BIG{i}" + new string('x', Limit) : $"m{i}";
                published.Add(publisher.PublishAsync("upstream", "key", new MessageProperties(), Encoding.UTF8.GetBytes(body), CancellationToken.None).AsTask());
            }

            await Task.WhenAll(published);
        }

        string[] expected = [.. Enumerable.Range(0, 20).Where(i => i % 2 == 1).Select(i => $"m{i}")];
        await Testbed.Eventually(() => queue.Count >= expected.Length, () => $"received [{string.Join(",", queue.Bodies)}]; link {Describe(engine)}");
        await Testbed.Eventually(() => engine.GetLinks()[0].DroppedMessages?.GetValueOrDefault("too_large") == 10, () => $"link {Describe(engine)}");

        // One more after the last loss (the refusals settle apart from the forwards, in any order): the stop finds the link
        // forwarding again.
        await Testbed.PublishAsync(upstream, "upstream", "key", "tail");
        await Testbed.Eventually(() => queue.Count >= expected.Length + 1, () => $"received [{string.Join(",", queue.Bodies)}]");
        Assert.Equal([.. expected, "tail"], queue.Bodies);

        await engine.StopAsync(CancellationToken.None);

        var warning = Assert.Single(logs.WithId(1011));
        Assert.Contains("too_large", warning.Message, StringComparison.Ordinal);
        var end = Assert.Single(logs.WithId(1012)); // it forwarded after its last loss
        Assert.Contains("10 message(s) were lost", end.Message, StringComparison.Ordinal);
        Assert.Empty(logs.WithId(1032));
    }

    private static string Describe(FederationEngine engine) =>
        string.Join("; ", engine.GetLinks().Select(l => $"{l.State} {l.Error} dropped [{string.Join(",", l.DroppedMessages ?? new Dictionary<string, long>())}]"));
}
