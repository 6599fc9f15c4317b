using System.Text;
using Federation.Core.Links;
using Federation.Core.Model;
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

    private static string Describe(FederationEngine engine) =>
        string.Join("; ", engine.GetLinks().Select(l => $"{l.State} {l.Error} dropped [{string.Join(",", l.DroppedMessages ?? new Dictionary<string, long>())}]"));
}
