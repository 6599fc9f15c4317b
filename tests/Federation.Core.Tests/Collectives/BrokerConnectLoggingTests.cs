using Federation.Core.Collectives;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// A broker whose server cannot be reached logs the episode as the exchange links do: one warning line with the cause
/// and no stack trace when it starts, every attempt (with its exception) at debug, and one line when it connects again.
/// After a lost connection the lines count connect attempts, not the loss (it has its own warning, 4003): a broker that
/// reconnected at its first attempt said it had connected again "after 1 failed attempt(s)". The retries run on a fake
/// clock.
/// </summary>
public sealed class BrokerConnectLoggingTests : IAsyncDisposable
{
    private readonly CollectivesTestbed _testbed = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly FakeTimeProvider _time = new();
    private readonly ILoggerFactory _loggerFactory;

    public BrokerConnectLoggingTests() => _loggerFactory = _logs.AsFactory();

    public async ValueTask DisposeAsync()
    {
        await _testbed.DisposeAsync();
        _loggerFactory.Dispose();
        _logs.Dispose();
    }

    [Fact]
    public async Task An_unreachable_server_is_warned_about_once_in_one_line_and_each_retry_goes_to_debug()
    {
        var (logs, time) = (_logs, _time);
        var london = _testbed.Registry.GetOrAdd("london");
        london.Stop();
        await using var broker = NewBroker();

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

    [Fact]
    public async Task After_a_lost_connection_the_failed_attempts_are_counted_without_the_loss()
    {
        var (logs, time) = (_logs, _time);
        var london = _testbed.Registry.GetOrAdd("london");
        await using var broker = NewBroker();
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

    /// <summary>An instance of 'london' between the collective 'london' and the federation 'fed', logging to the test.</summary>
    private FederationBroker NewBroker()
    {
        _testbed.Registry.GetOrAdd("fed");
        return new FederationBroker(
            new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = "london-1" },
            [_testbed.Transport], _testbed.Telemetry, _loggerFactory, _time);
    }
}
