using Federation.Core.Diagnostics;
using Federation.Core.Hosting;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Every wait has a deadline and stop always stops: peers that accept a connection and never answer, restarts of links
/// stuck connecting, reconfiguration and stop while the downstream is unreachable, and failure logging once per episode.
/// Time is fake: nothing here waits for a real timeout.
/// </summary>
public sealed class DeadlineTests : IAsyncLifetime
{
    // A bound on operations that must not wait for any peer; they normally take milliseconds.
    private static readonly TimeSpan Promptly = TimeSpan.FromSeconds(10);

    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private readonly CapturingLoggerProvider _logs = new();
    private readonly List<FederationEngine> _engines = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var engine in _engines)
        {
            await engine.DisposeAsync().AsTask().WaitAsync(Promptly);
        }

        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task A_link_whose_upstream_never_answers_goes_to_error_at_the_deadline_naming_the_cause_then_retries_at_reconnect_delay_pace()
    {
        var silent = new SilentTransport();
        var engine = await StartAsync(SilentUpstream(reconnectDelaySeconds: 5, ReconnectBackoffMode.Fixed), silent);
        var link = await WaitForLinkAsync(engine, l => l.State == LinkState.Starting && silent.Attempts == 1, "link connecting");

        _time.Advance(ConnectDeadline.Backstop);

        var failed = await WaitForLinkAsync(engine, l => l.State == LinkState.Error, "link in error at the deadline");
        Assert.Contains("silent://nowhere/", failed.Error, StringComparison.Ordinal);
        Assert.Contains("timed out after 120 s", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", failed.ToString(), StringComparison.Ordinal);
        var health = await new FederationHealthCheck(engine).CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("timed out", health.Description, StringComparison.Ordinal);

        // The first retry is immediate (the plugin's rule); while it connects, the link stays in error, visible as down.
        await Testbed.Eventually(() => silent.Attempts == 2, () => $"{silent.Attempts} attempts");
        Assert.Equal(LinkState.Error, engine.FindLink(link.Id)!.State);

        // The second failure waits reconnect-delay before the third attempt.
        _time.Advance(ConnectDeadline.Backstop);
        await Testbed.Eventually(() => _logs.WithId(1008).Count == 2 && _time.PendingTimers > 0, () => "second failure, waiting out the delay");
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(2, silent.Attempts);
        _time.Advance(TimeSpan.FromSeconds(1));
        await Testbed.Eventually(() => silent.Attempts == 3, () => $"{silent.Attempts} attempts");
    }

    [Fact]
    public async Task Restart_abandons_a_connect_attempt_that_never_returns_even_when_the_transport_ignores_cancellation()
    {
        var silent = new SilentTransport { IgnoresCancellation = true };
        var engine = await StartAsync(SilentUpstream(), silent);
        var link = await WaitForLinkAsync(engine, l => silent.Attempts == 1, "link connecting");

        Assert.True(await engine.RestartLinkAsync(link.Id, CancellationToken.None).WaitAsync(Promptly));

        await Testbed.Eventually(() => silent.Attempts == 2, () => $"{silent.Attempts} attempts: the restart did not start a new one");
        Assert.Equal(LinkState.Starting, engine.FindLink(link.Id)!.State);
    }

    [Fact]
    public async Task Restart_of_a_link_waiting_out_its_reconnect_delay_tries_again_now()
    {
        var silent = new SilentTransport();
        var engine = await StartAsync(SilentUpstream(reconnectDelaySeconds: 3600), silent);
        var link = await WaitForLinkAsync(engine, l => silent.Attempts == 1, "link connecting");
        _time.Advance(ConnectDeadline.Backstop);
        await Testbed.Eventually(() => silent.Attempts == 2, () => "immediate retry");
        _time.Advance(ConnectDeadline.Backstop);
        await Testbed.Eventually(() => _logs.WithId(1008).Count == 2 && _time.PendingTimers > 0, () => "waiting out the hour");

        Assert.True(await engine.RestartLinkAsync(link.Id, CancellationToken.None).WaitAsync(Promptly));

        await Testbed.Eventually(() => silent.Attempts == 3, () => $"{silent.Attempts} attempts");
    }

    [Fact]
    public async Task Stop_returns_promptly_while_a_link_is_stuck_connecting()
    {
        var silent = new SilentTransport { IgnoresCancellation = true };
        var engine = await StartAsync(SilentUpstream(), silent);
        await WaitForLinkAsync(engine, l => silent.Attempts == 1, "link connecting");

        await engine.StopAsync(CancellationToken.None).WaitAsync(Promptly);

        Assert.Empty(engine.GetLinks());
        var abandoned = Assert.Single(_logs.WithId(2014));
        Assert.Equal(LogLevel.Warning, abandoned.Level);
        Assert.Contains("1 link(s) not up", abandoned.Message, StringComparison.Ordinal);
        Assert.Contains("silent://nowhere/", abandoned.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_downstream_that_never_answers_blocks_neither_reconfiguration_nor_stop()
    {
        var silent = new SilentTransport { IgnoresCancellation = true };
        _bed.Broker("D");
        _bed.Broker("U");
        var engine = await StartAsync(new FederationOptions { Downstream = { Uri = SilentTransport.Uri("downstream") } }.Upstream("u", "U").Policy("fed", "^fed$", upstream: "u"), silent);
        await Testbed.Eventually(() => silent.Attempts == 1, () => "downstream connecting");

        // A change that keeps the downstream is applied at once (links follow once it connects).
        await engine.UpdateAsync(new FederationOptions { Downstream = { Uri = SilentTransport.Uri("downstream") } }.Upstream("u", "U", u => u.PrefetchCount = 7).Policy("fed", "^fed$", upstream: "u"), CancellationToken.None).WaitAsync(Promptly);

        // Pointing at a downstream that works abandons the hanging attempt and federates.
        await engine.UpdateAsync(Options().Upstream("u", "U").Policy("fed", "^fed$", upstream: "u"), CancellationToken.None).WaitAsync(Promptly);
        await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed");
        await Testbed.WaitForRunningLinksAsync(engine, 1);

        // And back to the silent one. Its URI shares no address with the running downstream's and tells no cluster name,
        // so the reload first asks it which cluster it is (it might be the same downstream written another way), for at
        // most DownstreamCluster.Within; then the links start over, and stop must not wait for the connect that follows.
        var back = engine.UpdateAsync(new FederationOptions { Downstream = { Uri = SilentTransport.Uri("downstream") } }.Upstream("u", "U").Policy("fed", "^fed$", upstream: "u"), CancellationToken.None);
        await Testbed.Eventually(() => silent.Attempts == 2, () => "asking the silent downstream which cluster it is");
        _time.Advance(DownstreamCluster.Within);
        await back.WaitAsync(Promptly);
        Assert.Contains("no answer within 10 s", Assert.Single(_logs.WithId(2039)).Message, StringComparison.Ordinal);
        await Testbed.Eventually(() => silent.Attempts == 3, () => "connecting to the silent downstream again");
        await engine.StopAsync(CancellationToken.None).WaitAsync(Promptly);
        Assert.Contains("connecting to downstream silent://downstream/", Assert.Single(_logs.WithId(2014)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_downstream_connect_that_times_out_is_logged_once_with_the_redacted_uri_and_retried()
    {
        var silent = new SilentTransport();
        var engine = await StartAsync(new FederationOptions { Downstream = { Uri = SilentTransport.Uri("downstream") } }, silent);
        await Testbed.Eventually(() => silent.Attempts == 1, () => "downstream connecting");

        _time.Advance(ConnectDeadline.Backstop);

        await Testbed.Eventually(() => _logs.WithId(2002).Count == 1, () => "downstream failure logged");
        var warning = _logs.WithId(2002)[0];
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Null(warning.Exception);
        Assert.Contains("silent://downstream/", warning.Message, StringComparison.Ordinal);
        Assert.Contains("timed out after 120 s", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", string.Join("\n", _logs.Entries.Select(e => e.Message + e.Exception)), StringComparison.Ordinal);
        Assert.False(engine.IsDownstreamConnected);

        await Testbed.Eventually(() => _time.PendingTimers > 0, () => "retry scheduled");
        _time.Advance(TimeSpan.FromSeconds(5));
        await Testbed.Eventually(() => silent.Attempts == 2, () => "retried");
        _time.Advance(ConnectDeadline.Backstop);
        await Testbed.Eventually(() => _logs.WithId(2008).Count == 2, () => "second failure");
        Assert.Single(_logs.WithId(2002));
    }

    [Fact]
    public async Task Stop_with_the_hosts_deadline_already_passed_returns_without_throwing()
    {
        var silent = new SilentTransport { IgnoresCancellation = true };
        var engine = await StartAsync(SilentUpstream(), silent);
        await WaitForLinkAsync(engine, l => silent.Attempts == 1, "link connecting");

        await engine.StopAsync(new CancellationToken(canceled: true)).WaitAsync(Promptly);
    }

    [Fact]
    public async Task A_failing_link_logs_one_warning_one_summary_and_one_recovery_per_episode()
    {
        _bed.Broker("D");
        var options = Options().Upstream("u", "missing-up", u =>
        {
            u.ReconnectDelaySeconds = 1;
            u.ReconnectBackoff = ReconnectBackoffMode.Fixed;
        }).Policy("fed", "^fed$", upstream: "u");
        var engine = await StartAsync(options, new SilentTransport());

        // Failure 1 retries at once, every later one after reconnect-delay.
        const int failures = 12;
        for (var failed = 2; failed <= failures; failed++)
        {
            var expected = failed;
            await Testbed.Eventually(() => _logs.WithId(1008).Count == expected && _time.PendingTimers > 0, () => $"failure {expected}: {_logs.WithId(1008).Count} logged");
            if (failed < failures)
            {
                _time.Advance(TimeSpan.FromSeconds(1));
            }
        }

        _bed.Broker("missing-up");
        _time.Advance(TimeSpan.FromSeconds(1));
        await Testbed.WaitForRunningLinksAsync(engine, 1);

        var started = Assert.Single(_logs.WithId(1002));
        Assert.Equal(LogLevel.Warning, started.Level);
        Assert.Null(started.Exception);
        Assert.Contains("missing-up", started.Message, StringComparison.Ordinal);
        var summary = Assert.Single(_logs.WithId(1009));
        Assert.Equal(LogLevel.Warning, summary.Level);
        Assert.Contains($"still failing after {FailureEpisode.SummaryAtAttempt} attempts", summary.Message, StringComparison.Ordinal);
        var recovered = Assert.Single(_logs.WithId(1010));
        Assert.Equal(LogLevel.Information, recovered.Level);
        Assert.Contains($"up again after {failures} failed attempt(s)", recovered.Message, StringComparison.Ordinal);
        Assert.All(_logs.WithId(1008), e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.All(_logs.Entries.Where(e => e.Level >= LogLevel.Information), e => Assert.Null(e.Exception));
    }

    [Fact]
    public async Task A_failing_link_retries_at_once_then_on_the_exponential_schedule_within_its_jitter()
    {
        _bed.Broker("D");
        var options = Options().Upstream("u", "missing-up", u =>
        {
            u.ReconnectDelaySeconds = 1;
            u.ReconnectDelayMaxSeconds = 8;
        }).Policy("fed", "^fed$", upstream: "u");
        var engine = await StartAsync(options, new SilentTransport());

        // Failure 1 retries at once: the second attempt fails without the clock moving.
        await Testbed.Eventually(() => _logs.WithId(1008).Count == 2 && _time.PendingTimers > 0, () => $"{_logs.WithId(1008).Count} attempts");
        double[] ceilings = [1, 2, 4, 8, 8];
        for (var i = 0; i < ceilings.Length; i++)
        {
            var attempts = 2 + i;
            var waited = await WaitForNextAttemptAsync(() => _logs.WithId(1008).Count, attempts, TimeSpan.FromMilliseconds(10));
            Assert.InRange(waited, TimeSpan.FromSeconds(ceilings[i] / 2), TimeSpan.FromSeconds(ceilings[i]));
        }

        // The upstream comes back: the next attempt, at most one cap later, brings the link up.
        _bed.Broker("missing-up");
        _time.Advance(TimeSpan.FromSeconds(8));
        await Testbed.WaitForRunningLinksAsync(engine, 1);
        Assert.Single(_logs.WithId(1010));
    }

    [Fact]
    public async Task The_downstream_connection_retries_on_the_exponential_schedule_within_its_jitter()
    {
        await StartAsync(Options("missing-down"), new SilentTransport());

        // The first retry is immediate, then 5 s, 10 s, 20 s, 40 s ceilings (the upstream defaults), each in its upper half.
        await Testbed.Eventually(() => _logs.WithId(2008).Count == 2 && _time.PendingTimers > 0, () => $"{_logs.WithId(2008).Count} attempts");
        double[] ceilings = [5, 10, 20, 40];
        for (var i = 0; i < ceilings.Length; i++)
        {
            var waited = await WaitForNextAttemptAsync(() => _logs.WithId(2008).Count, 2 + i, TimeSpan.FromMilliseconds(100));
            Assert.InRange(waited, TimeSpan.FromSeconds(ceilings[i] / 2), TimeSpan.FromSeconds(ceilings[i]));
        }

        Assert.Single(_logs.WithId(2002));
    }

    /// <summary>
    /// With <paramref name="failed"/> attempts failed and the retry timer armed, moves the fake clock in steps until that
    /// timer fires (inside <see cref="FakeTimeProvider.Advance"/>, at its exact due time), waits for the next attempt to
    /// fail in turn and returns the wait the engine chose: from the failure to the timer's due time.
    /// </summary>
    private async Task<TimeSpan> WaitForNextAttemptAsync(Func<int> failures, int failed, TimeSpan step)
    {
        var failedAt = _time.GetUtcNow();
        var firedBefore = _time.FiredTimers;
        while (_time.FiredTimers == firedBefore)
        {
            Assert.True(_time.GetUtcNow() - failedAt < TimeSpan.FromMinutes(10), "the retry timer never fired");
            Assert.Equal(failed, failures());
            _time.Advance(step);
        }

        var waited = _time.LastFiredAt!.Value - failedAt;
        await Testbed.Eventually(() => failures() == failed + 1 && _time.PendingTimers > 0, () => $"attempt {failed + 1}: {failures()} failed");
        return waited;
    }

    // Without spreading: these tests read the retry schedule off the fake clock's only timer, and an instance's presence
    // heartbeat would be a second one.
    private static FederationOptions Options(string downstream = "D") => new() { Downstream = { Uri = Testbed.Uri(downstream) }, SpreadLinks = false };

    /// <summary>Downstream D federating "fed" from an upstream that accepts connections and never answers.</summary>
    private FederationOptions SilentUpstream(double reconnectDelaySeconds = 5, ReconnectBackoffMode? backoff = null)
    {
        _bed.Broker("D");
        return Options().Upstream("u", "unused", u =>
        {
            u.Uris.Clear();
            u.Uris.Add(SilentTransport.Uri("nowhere"));
            u.ReconnectDelaySeconds = reconnectDelaySeconds;
            u.ReconnectBackoff = backoff;
        }).Policy("fed", "^fed$", upstream: "u");
    }

    private async Task<FederationEngine> StartAsync(FederationOptions options, SilentTransport silent)
    {
        var engine = new FederationEngine(options, [_bed.Transport, silent], _logs.AsFactory(), timeProvider: _time);
        _engines.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        if (options.Downstream.Uri!.StartsWith("memory://", StringComparison.Ordinal) && options.Policies.Count > 0)
        {
            await Testbed.DeclareExchangeAsync(await _bed.ConnectAsync("D"), "fed");
        }

        return engine;
    }

    private static async Task<LinkStatus> WaitForLinkAsync(FederationEngine engine, Func<LinkStatus, bool> condition, string what)
    {
        await Testbed.Eventually(() => engine.GetLinks() is [var link] && condition(link), () => $"{what}: {string.Join(", ", engine.GetLinks())}");
        return engine.GetLinks()[0];
    }
}
