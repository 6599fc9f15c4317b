namespace Federation.Nats.Tests.Collectives;

/// <summary>
/// Over real nats-servers: an instance whose CollectiveUri names another collective's server is found by the others of
/// its cluster (its announcements reach them on the federation, not on their collective), and says so itself.
/// </summary>
[Collection(CollectivesCollection.Name)]
public sealed class CollectiveMismatchTests(CollectivesFixture fixture)
{
    // Two announcement intervals (5 s each) and room to spare.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AnInstanceOnAnotherCollective_IsReportedByBoth_AndInstancesOfOneCollectiveAreNot()
    {
        var good = await fixture.StartBrokerAsync("mismatch_check", fixture.Federation, fixture.Collectives["london"], "mismatch-1", ownedByFixture: false);
        await using var _ = good;
        var twin = await fixture.StartBrokerAsync("mismatch_check", fixture.Federation, fixture.Collectives["london"], "mismatch-2", ownedByFixture: false);
        await using var __ = twin;
        var stray = await fixture.StartBrokerAsync("mismatch_check", fixture.Federation, fixture.Collectives["tokyo"], "mismatch-3", ownedByFixture: false);
        await using var ___ = stray;

        // Each instance finds each peer on its own announcements' schedule: wait until every expected report is there (the
        // stray reported the first of its two peers alone once, in a CI run).
        static bool Names(string? problem, string instance) => problem?.Contains($"'{instance}'", StringComparison.Ordinal) == true;
        await Eventually.TrueAsync(
            () => Names(good.ClusterProblem, "mismatch-3") && Names(twin.ClusterProblem, "mismatch-3")
                  && Names(stray.ClusterProblem, "mismatch-1") && Names(stray.ClusterProblem, "mismatch-2"),
            "every instance reports the stray, and the stray both others", Patience);

        Assert.Contains("'mismatch-3'", good.ClusterProblem, StringComparison.Ordinal);
        Assert.Contains(fixture.Collectives["tokyo"].Url, good.ClusterProblem, StringComparison.Ordinal);
        Assert.DoesNotContain("'mismatch-2'", good.ClusterProblem, StringComparison.Ordinal);
        Assert.Contains("'mismatch-3'", twin.ClusterProblem, StringComparison.Ordinal);
        Assert.Contains("'mismatch-1'", stray.ClusterProblem, StringComparison.Ordinal);
        Assert.Contains("'mismatch-2'", stray.ClusterProblem, StringComparison.Ordinal);
    }
}
