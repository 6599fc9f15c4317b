using Federation.Core.Tests.Support;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// An upstream that refuses the link's sentinel (no <c>write</c> permission on the upstream exchange) refuses it at every
/// start of the link, and one that does not answer fails it at every retry: warning 1019 says so once, again after a run
/// that had the sentinel in place, and again when the cause changes. Before, it was logged at every restart and retry.
/// </summary>
public sealed class SentinelWarningOnceTests
{
    [Fact]
    public async Task A_refused_sentinel_is_warned_of_once_per_episode_across_the_links_restarts()
    {
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        await using var bed = new Testbed();
        SentinelRefusingTransport? refusing = null;
        bed.WrapTransport = inner => refusing = new SentinelRefusingTransport(inner);
        var app = await bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed.downstream");
        var engine = await bed.StartEngineAsync(
            "D",
            o => o.Upstream("u", "U", u => u.Exchange = "upstream").Policy("fed", "^fed\\.", upstream: "u"),
            loggerFactory: loggerFactory);
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        var link = engine.GetLinks().Single();

        async Task RestartAndWaitForSentinelAsync(int attempts)
        {
            Assert.True(await engine.RestartLinkAsync(link.Id, CancellationToken.None));
            await Testbed.Eventually(() => refusing!.Attempts >= attempts, () => $"sentinel attempt {attempts} (seen {refusing!.Attempts})", TimeSpan.FromSeconds(30));
            await Testbed.WaitForRunningLinksAsync(engine, 1);
        }

        Assert.Equal(1, refusing!.Attempts);
        Assert.Single(logs.WithId(1019));

        // Refused again at each restart, for the same cause: said once.
        await RestartAndWaitForSentinelAsync(2);
        await RestartAndWaitForSentinelAsync(3);
        Assert.Single(logs.WithId(1019));

        // Another cause is news.
        refusing.Cause = "the upstream did not answer within 00:00:30";
        await RestartAndWaitForSentinelAsync(4);
        Assert.Equal(2, logs.WithId(1019).Count);
        Assert.Contains("did not answer", logs.WithId(1019)[^1].Message, StringComparison.Ordinal);

        // In place for a run, then refused again: a new episode, said again.
        refusing.Cause = null;
        await RestartAndWaitForSentinelAsync(5);
        refusing.Cause = "the upstream did not answer within 00:00:30";
        await RestartAndWaitForSentinelAsync(6);
        Assert.Equal(3, logs.WithId(1019).Count);
    }

    /// <summary>Refuses every bind of a link's sentinel with <see cref="Cause"/> (none while it is null), counting the attempts.</summary>
    private sealed class SentinelRefusingTransport(ITransport inner) : ITransport
    {
        private int _attempts;

        public string? Cause { get; set; } = "ACCESS_REFUSED - write access to exchange 'upstream' refused for user 'federation'";

        public int Attempts => Volatile.Read(ref _attempts);

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public DownstreamPreview? PreviewDownstream(string uri) => inner.PreviewDownstream(uri);

        public async ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            new Connection(await inner.ConnectAsync(request, cancellationToken), this);

        private sealed class Connection(IBrokerConnection inner, SentinelRefusingTransport transport) : DelegatingBrokerConnection(inner)
        {
            public override ValueTask BindAsync(BindingSpec binding, bool noWait, CancellationToken cancellationToken)
            {
                if (binding.Source.EndsWith(" sentinel", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref transport._attempts);
                    if (transport.Cause is { } cause)
                    {
                        throw new TransportException(cause);
                    }
                }

                return base.BindAsync(binding, noWait, cancellationToken);
            }
        }
    }
}
