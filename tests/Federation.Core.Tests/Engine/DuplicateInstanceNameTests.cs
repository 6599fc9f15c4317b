using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Tests.Support;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Two engines started with the same <see cref="FederationOptions.InstanceName"/> (an operator's mistake: one
/// configuration copied with its name). The leases keep each link on one of them, but placement and the roster go by
/// name, so neither sees the other and the links do not spread; nothing said so. Each now warns (event 1210), once per
/// run of the other, naming the name.
/// </summary>
public sealed class DuplicateInstanceNameTests : IAsyncLifetime
{
    private const int NamesakeHeard = 1210;

    private readonly Testbed _bed = new();
    private readonly FakeTimeProvider _time = new();
    private readonly List<(FederationEngine Engine, CapturingLoggerProvider Logs)> _engines = [];

    public async Task InitializeAsync()
    {
        _bed.Broker("D");
        _bed.Broker("U");
        var app = await _bed.ConnectAsync("D");
        await Testbed.DeclareExchangeAsync(app, "fed");
    }

    public async Task DisposeAsync()
    {
        foreach (var (engine, logs) in _engines)
        {
            await engine.DisposeAsync();
            logs.Dispose();
        }

        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task Two_instances_with_one_name_each_warn_once_naming_it_and_the_link_runs_once()
    {
        var (first, firstLogs) = await StartAsync("host-a");
        var (second, secondLogs) = await StartAsync("host-a");

        await AdvanceUntilAsync(() => firstLogs.WithId(NamesakeHeard).Count == 1 && secondLogs.WithId(NamesakeHeard).Count == 1, TimeSpan.FromSeconds(10));
        foreach (var logs in new[] { firstLogs, secondLogs })
        {
            var warning = Assert.Single(logs.WithId(NamesakeHeard)).Message;
            Assert.Contains("same InstanceName 'host-a'", warning, StringComparison.Ordinal);
            Assert.Contains("Federation:InstanceName", warning, StringComparison.Ordinal);
        }

        // Many heartbeats later: still one warning each, and the link runs on exactly one of them.
        var started = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - started >= TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30));
        Assert.Single(firstLogs.WithId(NamesakeHeard));
        Assert.Single(secondLogs.WithId(NamesakeHeard));
        Assert.Equal([LinkState.Running, LinkState.Waiting], _engines.Select(e => e.Engine.GetLinks()[0].State).Order().ToList());
        Assert.Equal(1, first.NamesakesKept);
    }

    [Fact]
    public async Task Distinct_names_never_warn_and_a_namesake_that_left_is_forgotten()
    {
        var (a, aLogs) = await StartAsync("host-a");
        var (_, bLogs) = await StartAsync("host-b");
        var started = _time.GetUtcNow();
        await AdvanceUntilAsync(() => _time.GetUtcNow() - started >= TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20));
        Assert.Empty(aLogs.WithId(NamesakeHeard));
        Assert.Empty(bLogs.WithId(NamesakeHeard));

        // A namesake comes and stops cleanly ("leaving"): host-a forgets it, and a second one is a new warning.
        for (var run = 1; run <= 2; run++)
        {
            var (namesake, _) = await StartAsync("host-a");
            await AdvanceUntilAsync(() => aLogs.WithId(NamesakeHeard).Count == run, TimeSpan.FromSeconds(10));
            await namesake.StopAsync(CancellationToken.None);
            await AdvanceUntilAsync(() => a.NamesakesKept == 0, TimeSpan.FromSeconds(10));
        }
    }

    private async Task<(FederationEngine Engine, CapturingLoggerProvider Logs)> StartAsync(string instance)
    {
        var options = new FederationOptions { InstanceName = instance, Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => u.Exchange = "upstream")
            .Policy("fed", "^fed$", upstream: "u");
        var logs = new CapturingLoggerProvider();
        var engine = new FederationEngine(options, [_bed.Transport], logs.AsFactory(), timeProvider: _time);
        _engines.Add((engine, logs));
        await engine.StartAsync(CancellationToken.None);
        return (engine, logs);
    }

    private string Describe() => string.Join("; ", _engines.Select((e, i) => e.Engine.GetLinks() is [var l]
        ? $"#{i}: {l.State} holder={l.LeaseHolder} {l.Waiting} {l.Error}"
        : $"#{i}: no link")) + $" at {_time.GetUtcNow():HH:mm:ss.fff}";

    /// <summary>Moves the fake clock in quarter seconds, letting the engines work between steps, until the condition holds.</summary>
    private async Task AdvanceUntilAsync(Func<bool> condition, TimeSpan fakeLimit)
    {
        var started = _time.GetUtcNow();
        var realDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            for (var i = 0; i < 3; i++)
            {
                await Task.Delay(Testbed.PollInterval);
                if (condition())
                {
                    return;
                }
            }

            Assert.True(_time.GetUtcNow() - started <= fakeLimit, $"Not within {fakeLimit.TotalSeconds} s (fake): {Describe()}");
            Assert.True(DateTime.UtcNow < realDeadline, $"Timed out (real time): {Describe()}");
            _time.Advance(TimeSpan.FromMilliseconds(250));
        }
    }
}
