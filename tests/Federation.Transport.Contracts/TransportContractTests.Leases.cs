using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

public abstract partial class TransportContractTests
{
    /// <summary>
    /// Deletes the lease <paramref name="name"/> on the broker as an operator would (<c>rabbitmqctl delete_queue</c>), while
    /// its holder's connection lives. Returns false, and the case that needs it passes without checking, for a transport
    /// whose test does not say how.
    /// </summary>
    protected virtual Task<bool> DeleteLeaseAsOperatorAsync(string name) => Task.FromResult(false);

    [Fact]
    public async Task Lease_DeletedOnTheBrokerWhileItsConnectionLives_IsLost_AndOnlyThatOne()
    {
        var holder = await OpenAsync();
        var other = await OpenAsync();
        if (holder.Leases is null)
        {
            return;
        }

        var name = UniqueName("lease");
        var held = (await holder.Leases.TryAcquireAsync(new LeaseRequest(name, "holder"), Ct)).Lease!;
        var kept = (await holder.Leases.TryAcquireAsync(new LeaseRequest(UniqueName("lease"), "holder"), Ct)).Lease!;
        if (!await DeleteLeaseAsOperatorAsync(name))
        {
            await held.DisposeAsync();
            await kept.DisposeAsync();
            return;
        }

        // Whoever asks next gets the lease, so the holder must learn at once that it has it no more.
        await held.Lost.WaitAsync(Patience, Ct);
        Assert.False(holder.Completion.IsCompleted, "the holder's connection lives on");
        var taken = await other.Leases!.TryAcquireAsync(new LeaseRequest(name, "other"), Ct);
        Assert.True(taken.Acquired, $"the deleted lease is free; held by '{taken.Holder}'");

        // The holder's other lease on the same connection is untouched, and still its own.
        Assert.False(kept.Lost.IsCompleted, "a lease whose queue was not deleted is still held");
        Assert.False((await other.Leases.TryAcquireAsync(new LeaseRequest(kept.Name, "other"), Ct)).Acquired);

        await held.DisposeAsync(); // releasing a lost lease does nothing, and must not take the new holder's
        Assert.False(taken.Lease!.Lost.IsCompleted);
        Assert.False((await holder.Leases.TryAcquireAsync(new LeaseRequest(name, "holder"), Ct)).Acquired, "the lease stays with the new holder");
        await taken.Lease.DisposeAsync();
        await kept.DisposeAsync();
    }

    [Fact]
    public async Task Lease_IsHeldByOneConnection_TheOtherLearnsWho_AndTakesItWhenTheHolderCloses()
    {
        var holder = await ConnectAsync(UniqueName("lease-holder"), Ct);
        try
        {
            var other = await OpenAsync();
            if (holder.Leases is null)
            {
                // A transport without leases says so on every connection; links over it run without one.
                Assert.Null(other.Leases);
                return;
            }

            var name = UniqueName("lease");
            var held = await holder.Leases.TryAcquireAsync(new LeaseRequest(name, "holder-a"), Ct);
            Assert.True(held.Acquired);
            Assert.Equal(("holder-a", name), (held.Holder, held.Lease!.Name));
            Assert.False(held.Lease.Lost.IsCompleted);

            var refused = await other.Leases!.TryAcquireAsync(new LeaseRequest(name, "holder-b"), Ct);
            Assert.False(refused.Acquired);
            Assert.True(refused.Holder is null or "holder-a", $"the holder is 'holder-a' or unknown, not '{refused.Holder}'");
            Assert.False(await other.ExchangeExistsAsync(UniqueName("after-refusal"), Ct)); // the refusal left the connection usable

            await holder.DisposeAsync();
            await held.Lease.Lost.WaitAsync(Patience, Ct);
            var deadline = DateTime.UtcNow + Patience;
            LeaseAttempt taken;
            while (!(taken = await other.Leases.TryAcquireAsync(new LeaseRequest(name, "holder-b"), Ct)).Acquired)
            {
                Assert.True(DateTime.UtcNow < deadline, "the lease should be free once its holder's connection closed");
                await Task.Delay(TimeSpan.FromMilliseconds(50), Ct); // poll interval, bounded by the deadline
            }

            Assert.Equal("holder-b", taken.Holder);
            await taken.Lease!.DisposeAsync();
        }
        finally
        {
            await holder.DisposeAsync();
        }
    }

    [Fact]
    public async Task Lease_ReleasedByItsHolder_IsFreeAtOnce_AndReportsLost()
    {
        var first = await OpenAsync();
        var second = await OpenAsync();
        if (first.Leases is null)
        {
            return;
        }

        var name = UniqueName("lease");
        var held = (await first.Leases.TryAcquireAsync(new LeaseRequest(name, "first"), Ct)).Lease!;
        await held.DisposeAsync();
        Assert.True(held.Lost.IsCompleted);

        var taken = await second.Leases!.TryAcquireAsync(new LeaseRequest(name, "second"), Ct);
        Assert.True(taken.Acquired);
        await taken.Lease!.DisposeAsync();
        Assert.False(first.Completion.IsCompleted);
    }

    [Fact]
    public async Task Lease_IsLostWhenItsConnectionIsLost_AndANewConnectionTakesIt()
    {
        var holder = await OpenAsync();
        if (holder.Leases is null)
        {
            return;
        }

        var name = UniqueName("lease");
        var held = (await holder.Leases.TryAcquireAsync(new LeaseRequest(name, "lost-holder"), Ct)).Lease!;

        // Nothing is released: the broker (or the lease's time-to-live) must free it on its own.
        await DropConnectionsAsync();
        await held.Lost.WaitAsync(Patience, Ct);

        var other = await OpenAsync();
        var deadline = DateTime.UtcNow + Patience;
        LeaseAttempt taken;
        while (!(taken = await other.Leases!.TryAcquireAsync(new LeaseRequest(name, "new-holder"), Ct)).Acquired)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the lease should be free once its holder's connection was lost; held by '{taken.Holder}'");
            await Task.Delay(TimeSpan.FromMilliseconds(50), Ct); // poll interval, bounded by the deadline
        }

        Assert.Equal("new-holder", taken.Holder);
        await held.DisposeAsync(); // releasing a lost lease does nothing, and must not take the new holder's
        Assert.False(taken.Lease!.Lost.IsCompleted);
        var third = await OpenAsync();
        var refused = await third.Leases!.TryAcquireAsync(new LeaseRequest(name, "third"), Ct);
        Assert.False(refused.Acquired, "the lease stays with the new holder");
        Assert.True(refused.Holder is null or "new-holder", $"the holder is 'new-holder' or unknown, not '{refused.Holder}'");
        await taken.Lease.DisposeAsync();
    }
}
