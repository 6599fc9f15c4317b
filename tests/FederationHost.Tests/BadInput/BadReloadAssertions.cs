namespace FederationHost.Tests.BadInput;

/// <summary>
/// The outcome every bad reload must have: refused with a warning naming the key, the running configuration kept (same
/// links, not restarted, upstream queues intact), no secret logged or served, and the next good reload still applied.
/// </summary>
public static class BadReloadAssertions
{
    // A refused reload is logged as soon as the configuration change is seen; this only bounds a broken implementation,
    // so it is as long as the suite's other waits (a loaded CI machine may take seconds to deliver and apply a file change),
    // and costs nothing when the warning comes.
    public static readonly TimeSpan ReloadDeadline = TimeSpan.FromSeconds(30);

    /// <summary>Waits until the host reacted to a bad reload (a warning naming <paramref name="expect"/>, or a change of the running state) and checks the reaction.</summary>
    public static Task RefusedAsync(RunningHost host, RunningState before, string upstreamBroker, IReadOnlyList<string> expect, IReadOnlyList<string> secrets) =>
        RefusedAsync(host, before, upstreamBroker, [expect], secrets);

    /// <summary>As above, where any one of <paramref name="expectAnyOf"/> (each a set of texts for one record) is an acceptable warning.</summary>
    public static async Task RefusedAsync(RunningHost host, RunningState before, string upstreamBroker, IReadOnlyList<IReadOnlyList<string>> expectAnyOf, IReadOnlyList<string> secrets)
    {
        var deadline = DateTime.UtcNow + ReloadDeadline;
        RunningState now;
        bool warned;
        while (true)
        {
            warned = Warned(host, expectAnyOf);
            now = await RunningState.CaptureAsync(host, upstreamBroker);
            if (warned || !now.SameAs(before) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(25));
        }

        Assert.True(
            now.SameAs(before),
            $"The bad reload changed the running configuration.\nbefore: {before}\nafter:  {now}\nlog:\n{host.Logs.Text}");
        Assert.True(
            warned,
            $"No warning names {string.Join(" or ", expectAnyOf.Select(x => string.Join(" and ", x.Select(e => "'" + e + "'"))))} within {ReloadDeadline}.\nlog:\n{host.Logs.Text}");
        OutputChecks.NoSecret(host.Logs.Text, secrets, "the log");
        OutputChecks.NoSecret(await host.GetServedTextAsync(), secrets, "/federation/links, /health or /metrics");
    }

    /// <summary>
    /// Whether one warning (or error) record names every text of one of <paramref name="expectAnyOf"/>, in its message or
    /// in the messages of its exception (a file error may be logged as "could not reload" with the parser's exception).
    /// </summary>
    public static bool Warned(RunningHost host, IReadOnlyList<IReadOnlyList<string>> expectAnyOf) =>
        host.Logs.Warnings.Any(r => expectAnyOf.Any(expect => expect.All(e => r.Statement.Contains(e, StringComparison.OrdinalIgnoreCase))));

    /// <summary>
    /// After a refused reload, a good one is applied: <paramref name="applyGood"/> adds a second upstream, whose link must
    /// run, while the first link still has the same since-timestamp and its upstream queue (so the bad reload did not
    /// restart it later either).
    /// </summary>
    public static async Task GoodReloadStillAppliesAsync(RunningHost host, RunningState before, string upstreamBroker, Func<Task> applyGood)
    {
        await applyGood();
        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            l => l.Length == 2 && l.All(x => x.GetProperty("state").GetString() == "running"),
            "two running links after the good reload");
        var after = await RunningState.CaptureAsync(host, upstreamBroker);
        Assert.Contains(before.Links.Single(), after.Links);
        Assert.Subset(after.UpstreamQueues.ToHashSet(), before.UpstreamQueues.ToHashSet());
        Assert.Equal(2, links.Length);
    }
}
