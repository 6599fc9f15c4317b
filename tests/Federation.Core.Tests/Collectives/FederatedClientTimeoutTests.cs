using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// A request's timeout bounds its waiting, the flush included. The client confirmed every request with a flush (a
/// NATS PING/PONG) before it started the timeout, and a flush waits for a lost connection to come back: a request made
/// during an outage waited as long as the outage, whatever its timeout.
/// </summary>
public sealed class FederatedClientTimeoutTests
{
    [Fact]
    public async Task A_request_whose_flush_does_not_finish_returns_what_arrived_once_its_timeout_passed()
    {
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        var stalled = new StalledFlushConnection(await testbed.ConnectAsync("fed", "client"));
        await using var client = new FederatedClient(stalled);

        var request = new FederatedRequest
        {
            Federations = ["london"],
            Targets = ["mcollective.node.nobody"],
            Body = Encoding.UTF8.GetBytes("ping"),
            Timeout = TimeSpan.FromMilliseconds(300),
            ExpectedReplies = 1,
        };
        var result = await client.RequestAsync(request, CancellationToken.None).WaitAsync(CollectivesTestbed.Deadline);

        Assert.False(result.Completed);
        Assert.Equal(1, result.MessagesPublished);
        Assert.Empty(result.Replies);
        // The flush sees the same cancellation, on its own continuation: it may note it a moment after the request returned.
        await Federation.Core.Tests.Engine.Testbed.Eventually(() => stalled.FlushCancelled, () => "the stalled flush should have been cancelled, not left waiting", CollectivesTestbed.Deadline);

        // The caller's own token still throws, as before.
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.RequestAsync(request with { Timeout = TimeSpan.FromHours(1) }, cancelled.Token));
    }

    [Fact]
    public async Task A_request_with_a_zero_timeout_is_still_sent_to_every_federation_and_returns_without_waiting()
    {
        // A zero timeout is "send, do not wait for replies" (a fire-and-forget command). Bounding sending by the timeout
        // must not mean that nothing is sent at all: every publish gets its one try, only waiting is cut short.
        await using var testbed = new CollectivesTestbed();
        await testbed.StartBrokerAsync("london", "fed", "london");
        await testbed.StartBrokerAsync("tokyo", "fed", "tokyo");
        var london = await testbed.StartNodesAsync("london", "mcollective", "web1");
        var tokyo = await testbed.StartNodesAsync("tokyo", "mcollective", "web2");
        var client = await testbed.ClientAsync("fed");

        var request = new FederatedRequest
        {
            Federations = ["london", "tokyo"],
            Targets = ["mcollective.broadcast.agent.ping"],
            Body = Encoding.UTF8.GetBytes("restart"),
            Timeout = TimeSpan.Zero,
        };
        var result = await client.RequestAsync(request, CancellationToken.None).WaitAsync(CollectivesTestbed.Deadline);

        Assert.Equal(2, result.MessagesPublished);
        Assert.False(result.Completed);
        await CollectivesTestbed.WaitUntilAsync(() => !london[0].Received.IsEmpty && !tokyo[0].Received.IsEmpty, "the zero-timeout request reaching both federations' nodes");
    }

    /// <summary>A connection whose flush never finishes, as on NATS while the server cannot be reached.</summary>
    private sealed class StalledFlushConnection(ISubjectConnection inner) : ISubjectConnection
    {
        private volatile bool _flushCancelled;

        public bool FlushCancelled => _flushCancelled;

        public string DisplayUri => inner.DisplayUri;

        public string? ConnectedServer => inner.ConnectedServer;

        public Task Completion => inner.Completion;

        public ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, CancellationToken cancellationToken) =>
            inner.SubscribeAsync(subject, queueGroup, handler, cancellationToken);

        public ValueTask PublishAsync(SubjectMessage message, CancellationToken cancellationToken) => inner.PublishAsync(message, cancellationToken);

        public async ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                _flushCancelled = true;
                throw;
            }
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
