using Federation.Core.Links;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Fencing: a link checks its lease before each forward. A holder paused past its lease's time-to-live (SIGSTOP) resumes
/// with deliveries it received before the pause; another engine runs the link by then and forwards the same messages, so
/// the resumed holder must not forward them, even before its renewal timer has noticed the loss.
/// </summary>
public sealed class LeaseFencingTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_link_whose_lease_has_lapsed_forwards_nothing_more_and_its_deliveries_go_back_upstream(bool duplicateSuppression)
    {
        var leases = new LapsingLeaseTransport(_bed.Transport);
        _bed.WrapTransport = _ => leases;
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => { u.DuplicateSuppression = duplicateSuppression; u.ReconnectDelaySeconds = 0.1; });
        var publisher = await _bed.ConnectAsync("U");
        for (var i = 0; i < 10; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"before{i}");
        }

        await Testbed.Eventually(() => queue.Count == 10, () => $"{queue.Count} of the first 10");

        // The lease lapses while its connection stays up, and another engine holds it now.
        leases.RefuseNew = true;
        leases.Lapse();
        for (var i = 0; i < 10; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"after{i}");
        }

        // The link stops at the first delivery after the lapse and asks for the lease again, which is refused.
        await Testbed.Eventually(() => Volatile.Read(ref leases.Refused) > 0 && engine.GetLinks()[0].State != LinkState.Running, () => $"{engine.GetLinks()[0].State}, {leases.Refused} refused");
        Assert.Equal(10, queue.Count);

        // The lease comes back: every message arrives, each once.
        leases.RefuseNew = false;
        await Testbed.Eventually(() => queue.Count == 20, () => $"{queue.Count} of 20");
        Assert.Equal(20, queue.Bodies.Distinct().Count());
    }
}
