using Federation.Core.Links;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Three instances, one of them paused while it holds links (its connection lingers, so its leases stay its own). The
/// instance placement now puts such a link on asks, is refused, and shows it in error (see <see cref="SilentHolderTests"/>);
/// the third stands by without asking. Found by a black-box run of three FederationHost processes on RabbitMQ (7 Dec 2026):
/// the one standing by showed the link waiting, running on the instance that was refused the lease, and stayed healthy for
/// the whole 25 s pause, while that instance showed it in error. Now both show it in error, running on the silent holder.
/// </summary>
public sealed class SilentHolderStandbyTests : IAsyncLifetime
{
    private const int Links = 6;

    private static readonly string[] Others = ["host-b", "host-c"];

    private readonly InstanceCluster _cluster = new(Links);

    public Task InitializeAsync() => _cluster.StartSpreadAsync("host-a", "host-b", "host-c");

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Every_other_instance_shows_the_links_of_a_silent_holder_in_error_whether_it_asks_or_stands_by()
    {
        var heldByA = _cluster.Runners().Where(r => r.Value == "host-a").Select(r => r.Key).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(heldByA);

        // A few heartbeats on, so that the others have heard host-a say it holds them (a paused holder has run its links for a while).
        var heard = _cluster.Time.GetUtcNow() + TimeSpan.FromSeconds(3);
        await _cluster.AdvanceUntilAsync(() => _cluster.Time.GetUtcNow() >= heard, TimeSpan.FromSeconds(10), _cluster.Describe);
        Assert.Equal(heldByA, _cluster.Runners().Where(r => r.Value == "host-a").Select(r => r.Key).ToHashSet(StringComparer.Ordinal));

        _cluster.Silence("host-a");
        bool DownEverywhere() => Others.All(i =>
            _cluster.LinksOf(i).Where(l => heldByA.Contains(l.Id)).All(l => l.State == LinkState.Error));
        // Within the presence timeout (3 s) and a few heartbeats, well before the instance standing by asks for the lease
        // itself as a fallback (after 15 s), which would tell it the holder.
        await _cluster.AdvanceUntilAsync(DownEverywhere, TimeSpan.FromSeconds(10), _cluster.Describe);

        // And stays so (before, the instance standing by showed the link waiting again at its next standby, for the rest
        // of the pause, whenever it was not asking for the lease itself as a fallback): no instance shows it waiting.
        var shownWaiting = new List<string>();
        var until = _cluster.Time.GetUtcNow() + TimeSpan.FromSeconds(40);
        await _cluster.AdvanceUntilAsync(
            () =>
            {
                shownWaiting.AddRange(Others.SelectMany(i => _cluster.LinksOf(i)
                    .Where(l => heldByA.Contains(l.Id) && l.State == LinkState.Waiting)
                    .Select(l => $"{_cluster.Time.GetUtcNow():HH:mm:ss.fff} {i}: {l.Id} waiting, running on {l.RunningOn}, holder {l.LeaseHolder}: {l.Waiting}; runners: {string.Join(",", _cluster.Runners().Select(r => r.Key + "=" + r.Value))}")));
                return _cluster.Time.GetUtcNow() >= until;
            },
            TimeSpan.FromSeconds(60),
            _cluster.Describe);
        Assert.True(shownWaiting.Count == 0, string.Join("\n", shownWaiting.Distinct(StringComparer.Ordinal)));

        foreach (var instance in Others)
        {
            Assert.All(_cluster.LinksOf(instance).Where(l => heldByA.Contains(l.Id)), link =>
            {
                Assert.Equal("host-a", link.RunningOn);
                Assert.Contains("'host-a'", link.Error, StringComparison.Ordinal);
                Assert.Contains("has not been heard from since", link.Error, StringComparison.Ordinal);
                Assert.Null(link.Waiting);
            });

            // The links the live instances run are not affected.
            Assert.DoesNotContain(_cluster.LinksOf(instance).Where(l => !heldByA.Contains(l.Id)), l => l.State == LinkState.Error);
        }

        _cluster.Census.AssertOneAtATime();

        // The broker gives the holder up (here: its process dies): the others take the links over, and nothing shows in error.
        await _cluster.CrashAsync("host-a");
        await _cluster.AdvanceUntilAsync(
            () => _cluster.AllRunning() && Others.All(i => _cluster.LinksOf(i).All(l => l.State is LinkState.Running or LinkState.Waiting)),
            TimeSpan.FromSeconds(30),
            _cluster.Describe);
    }
}
