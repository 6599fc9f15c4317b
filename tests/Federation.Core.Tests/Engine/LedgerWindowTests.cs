using Federation.Core.Model;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Duplicate suppression queues forwards for the ledger's next unit instead of publishing each one. From an upstream
/// whose consumer does not enforce the prefetch (core NATS), the link itself bounds those forwards, as it bounds the
/// publishes of a link without a ledger (<see cref="NoAckWindowTests"/>): a downstream that commits slowly would
/// otherwise let them pile up in the process, and the upstream would never be pushed back.
/// </summary>
public sealed class LedgerWindowTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();
    private HeldLedgerTransport? _ledger;
    private NoPrefetchTransport _upstream = null!;

    public Task InitializeAsync()
    {
        _bed.WrapTransport = inner => _upstream = new NoPrefetchTransport(_ledger = new HeldLedgerTransport(inner));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _ledger?.ReleaseAll();
        await _bed.DisposeAsync();
    }

    [Fact]
    public async Task Forwards_queued_for_the_ledger_are_bounded_by_prefetch_when_the_upstream_consumer_has_no_prefetch()
    {
        var (_, queue) = await _bed.StartSimpleLinkAsync(u => { u.AckMode = AckMode.OnConfirm; u.DuplicateSuppression = true; u.PrefetchCount = 2; });
        var publisher = await _bed.ConnectAsync("U");
        for (var i = 0; i < 20; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }

        // The first unit's commit is held; two in flight is the window, the third goes past it and the consumer waits
        // until that one is settled: the rest stays with the upstream.
        await Testbed.Eventually(() => _upstream.Delivered >= 3, () => $"{_upstream.Delivered} delivered to the link");
        await ExpectDeliveredStaysAtMostAsync(3);
        Assert.Equal(0, queue.Count);

        // Once the held commits go ahead, everything follows, in order (each release may let the next units be held).
        await Testbed.Eventually(() =>
        {
            _ledger!.ReleaseAll();
            return queue.Count == 20;
        }, () => $"{queue.Count} forwarded");

        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), queue.Bodies);
        Assert.Equal(20, _upstream.Delivered);
    }

    /// <summary>"No more" can only be checked for a while: a quiet period, as <see cref="QueueProbe.ExpectNoMoreThanAsync"/> does.</summary>
    private async Task ExpectDeliveredStaysAtMostAsync(int count)
    {
        var quietUntil = DateTime.UtcNow + TimeSpan.FromMilliseconds(200);
        while (DateTime.UtcNow < quietUntil)
        {
            Assert.True(_upstream.Delivered <= count, $"{_upstream.Delivered} delivered to the link, expected at most {count}");
            await Task.Delay(Testbed.PollInterval);
        }
    }
}
