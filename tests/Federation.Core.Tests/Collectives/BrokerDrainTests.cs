using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// A clean stop drains: the instance unsubscribes, so the cluster's other instances take new messages, and relays what it
/// already holds before its connections close. Before, the requests queued behind the one being relayed were dropped
/// (counted as <c>stopped</c> on NATS, silently on the in-memory bus).
/// </summary>
public sealed class BrokerDrainTests
{
    [Fact]
    public async Task A_stop_relays_the_requests_the_instance_already_holds()
    {
        await using var testbed = new CollectivesTestbed();
        var nodes = await testbed.StartNodesAsync("london", "mcollective", "web1");
        testbed.Registry.GetOrAdd("fed");
        var gated = new GatedTransport(testbed.Transport, "mcollective.node.");
        var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = "london-1" },
            [gated], testbed.Telemetry);
        await broker.StartAsync(CancellationToken.None);
        await using var client = await testbed.ClientAsync("fed");

        // The first request holds the relay in its publish; the other four wait in the instance's subscription.
        for (var i = 0; i < 5; i++)
        {
            await client.RequestAsync(new FederatedRequest
            {
                Federations = ["london"], Targets = ["mcollective.node.web1"], Body = Encoding.UTF8.GetBytes($"r{i}"), ExpectedReplies = 0, Timeout = TimeSpan.Zero,
            }, CancellationToken.None);
        }

        await gated.PublishWaiting.Task.WaitAsync(CollectivesTestbed.Deadline);
        var stopping = broker.StopAsync(CancellationToken.None);
        await gated.Draining.Task.WaitAsync(CollectivesTestbed.Deadline);
        gated.Gate.TrySetResult();
        await stopping.WaitAsync(CollectivesTestbed.Deadline);

        await CollectivesTestbed.WaitUntilAsync(() => nodes[0].Received.Count >= 5, "the node got every request the instance held");
        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], nodes[0].Received.Select(CollectivesTestbed.Text));
        Assert.Equal(0, broker.Statistics.Errors);
        await broker.DisposeAsync();
    }

    /// <summary>Holds every publish to a subject starting with <paramref name="heldSubject"/> until <see cref="Gate"/> opens, and tells when a subscription drains.</summary>
    private sealed class GatedTransport(ISubjectTransport inner, string heldSubject) : ISubjectTransport
    {
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource PublishWaiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Draining { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public async ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken), this);

        private sealed class Connection(ISubjectConnection inner, GatedTransport owner) : ISubjectConnection
        {
            public string DisplayUri => inner.DisplayUri;

            public string? ConnectedServer => inner.ConnectedServer;

            public Task Completion => inner.Completion;

            public async ValueTask<ISubjectSubscription> SubscribeAsync(string subject, string? queueGroup, SubjectMessageHandler handler, CancellationToken cancellationToken) =>
                new Subscription(await inner.SubscribeAsync(subject, queueGroup, handler, cancellationToken), owner);

            public async ValueTask PublishAsync(SubjectMessage message, CancellationToken cancellationToken)
            {
                if (message.Subject.StartsWith(owner._heldSubject, StringComparison.Ordinal))
                {
                    owner.PublishWaiting.TrySetResult();
                    await owner.Gate.Task.WaitAsync(cancellationToken);
                }

                await inner.PublishAsync(message, cancellationToken);
            }

            public ValueTask FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }

        private sealed class Subscription(ISubjectSubscription inner, GatedTransport owner) : ISubjectSubscription
        {
            public string Subject => inner.Subject;

            public string? QueueGroup => inner.QueueGroup;

            public ValueTask DrainAsync(CancellationToken cancellationToken)
            {
                owner.Draining.TrySetResult();
                return inner.DrainAsync(cancellationToken);
            }

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }

        private readonly string _heldSubject = heldSubject;
    }
}
