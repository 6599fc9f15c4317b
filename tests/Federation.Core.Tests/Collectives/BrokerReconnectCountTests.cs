using Federation.Core.Collectives;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// After a lost connection the log counts reconnect attempts, not the loss: the loss has its own warning (4003), and
/// "connect attempt N failed" (4008) and "connected again after N failed attempt(s)" (4010) count the attempts that
/// failed. They counted the loss as a failed attempt too, so a broker that reconnected at its first attempt said it had
/// connected again "after 1 failed attempt(s)". The retries run on a fake clock.
/// </summary>
public sealed class BrokerReconnectCountTests
{
    [Fact]
    public async Task After_a_lost_connection_the_failed_attempts_are_counted_without_the_loss()
    {
        await using var testbed = new CollectivesTestbed();
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        var time = new FakeTimeProvider();
        var london = testbed.Registry.GetOrAdd("london");
        testbed.Registry.GetOrAdd("fed");
        await using var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = "london-1" },
            [testbed.Transport], testbed.Telemetry, loggerFactory, time);
        await broker.StartAsync(CancellationToken.None);
        Assert.True(broker.IsConnected);

        // The loss, then the immediate attempt fails while the server is down: one failed attempt.
        london.Stop();
        await CollectivesTestbed.WaitUntilAsync(() => logs.WithId(4008).Count == 1 && time.PendingTimers == 1, "the first reconnect attempt failed and the next waits");
        Assert.Single(logs.WithId(4003));
        Assert.Contains("connect attempt 1 failed", logs.WithId(4008)[0].Message, StringComparison.Ordinal);

        london.Start();
        time.Advance(TimeSpan.FromSeconds(1));
        await CollectivesTestbed.WaitUntilAsync(() => broker.IsConnected, "the broker connected once the server was up");
        var recovered = Assert.Single(logs.WithId(4010));
        Assert.Contains("after 1 failed attempt(s)", recovered.Message, StringComparison.Ordinal);
    }
}
