using Federation.Core.Collectives;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// A broker whose server cannot be reached logs the episode as the exchange links do: one warning line with the cause
/// and no stack trace when it starts, every attempt (with its exception) at debug, and one line when it connects again.
/// The retries run on a fake clock.
/// </summary>
public sealed class BrokerConnectLoggingTests
{
    [Fact]
    public async Task An_unreachable_server_is_warned_about_once_in_one_line_and_each_retry_goes_to_debug()
    {
        await using var testbed = new CollectivesTestbed();
        using var logs = new CapturingLoggerProvider();
        using var loggerFactory = logs.AsFactory();
        var time = new FakeTimeProvider();
        var london = testbed.Registry.GetOrAdd("london");
        testbed.Registry.GetOrAdd("fed");
        london.Stop();
        await using var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = "london-1" },
            [testbed.Transport], testbed.Telemetry, loggerFactory, time);

        await broker.StartAsync(CancellationToken.None);
        foreach (var (gap, attempts) in new[] { (1, 2), (2, 3), (4, 4) })
        {
            await CollectivesTestbed.WaitUntilAsync(() => time.PendingTimers == 1, "the broker waits for its next attempt");
            time.Advance(TimeSpan.FromSeconds(gap));
            await CollectivesTestbed.WaitUntilAsync(() => logs.WithId(4008).Count == attempts, $"attempt {attempts} logged at debug");
        }

        var warning = Assert.Single(logs.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal(4004, warning.EventId.Id);
        Assert.Null(warning.Exception);
        Assert.Contains("could not connect: BrokerUnreachableException: ", warning.Message, StringComparison.Ordinal);
        Assert.Contains("'london' is stopped", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", warning.Message, StringComparison.Ordinal);
        Assert.All(logs.WithId(4008), e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.All(logs.WithId(4008), e => Assert.NotNull(e.Exception));

        london.Start();
        await CollectivesTestbed.WaitUntilAsync(() => time.PendingTimers == 1, "the broker waits for its next attempt");
        time.Advance(TimeSpan.FromSeconds(8));
        await CollectivesTestbed.WaitUntilAsync(() => broker.IsConnected, "the broker connected once the server was up");
        var recovered = Assert.Single(logs.WithId(4010));
        Assert.Contains("after 4 failed attempt(s)", recovered.Message, StringComparison.Ordinal);
        Assert.Single(logs.Entries, e => e.Level >= LogLevel.Warning);
    }
}
