namespace Federation.Core.Tests.Engine;

/// <summary>
/// A max-hops too large for the hops of <c>x-bound-from</c> (an AMQP short): the plugin accepts any positive max-hops, so
/// the link must run and propagate its bindings, not fail each one.
/// </summary>
public sealed class LargeMaxHopsTests : IAsyncLifetime
{
    private readonly Testbed _bed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Theory]
    [InlineData(short.MaxValue + 1)]
    [InlineData(int.MaxValue)]
    public async Task A_link_with_a_max_hops_above_32767_propagates_its_bindings_and_forwards(int maxHops)
    {
        // Returns once the link runs and the binding reached the upstream: before, every binding failed the link.
        var (_, queue) = await _bed.StartSimpleLinkAsync(u => u.MaxHops = maxHops);

        await Testbed.PublishAsync(await _bed.ConnectAsync("U"), "upstream", "key", "HELLO");
        await queue.ExpectAsync("HELLO");
    }
}
