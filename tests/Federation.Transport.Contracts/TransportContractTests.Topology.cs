using System.Collections.Concurrent;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Transport.Contracts;

public abstract partial class TransportContractTests
{
    [Fact]
    public async Task Topology_ReportsDeclaresBindsUnbindsAndDeletes_WithIncreasingSerials()
    {
        var connection = await OpenAsync();
        if (connection.Topology is not { } topology)
        {
            return; // The adapter cannot observe topology; the engine then does not propagate bindings.
        }

        var changes = new ConcurrentQueue<TopologyChange>();
        using var subscription = topology.Subscribe(changes.Enqueue);
        var source = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Topic);
        var destination = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Fanout);
        var queue = await DeclareQueueAsync(connection);
        var exchangeBinding = new BindingSpec(source, destination, BindingDestinationKind.Exchange, "a.#");
        var queueBinding = new BindingSpec(source, queue, BindingDestinationKind.Queue, "a.b", new Dictionary<string, object?> { ["x-bound-from"] = new List<object?>() });
        await connection.BindAsync(exchangeBinding, noWait: false, Ct);
        await connection.BindAsync(queueBinding, noWait: false, Ct);
        await connection.BindAsync(queueBinding, noWait: false, Ct);
        await connection.UnbindAsync(queueBinding, noWait: false, Ct);
        await connection.DeleteExchangeAsync(destination, Ct);

        bool IsOurs(TopologyChange change) =>
            change.Exchange?.Name == source || change.Exchange?.Name == destination || change.Binding?.Source == source;
        await Eventually.TrueAsync(
            () => changes.Any(c => c.Kind == TopologyChangeKind.ExchangeDeleted && c.Exchange!.Name == destination),
            Patience,
            "the exchange deletion should be reported");
        var ours = changes.Where(IsOurs).OrderBy(c => c.Serial).ToList();

        Assert.Equal(ours.Count, ours.Select(c => c.Serial).Distinct().Count());
        Assert.Equal(
            [
                (TopologyChangeKind.ExchangeDeclared, source),
                (TopologyChangeKind.ExchangeDeclared, destination),
                (TopologyChangeKind.BindingAdded, destination),
                (TopologyChangeKind.BindingAdded, queue),
                (TopologyChangeKind.BindingRemoved, queue),
            ],
            ours.Take(5).Select(c => (c.Kind, c.Exchange?.Name ?? c.Binding!.Destination)));
        Assert.Equal(queueBinding, ours[3].Binding);
        Assert.Equal((TopologyChangeKind.ExchangeDeleted, destination), (ours[^1].Kind, ours[^1].Exchange!.Name));
        Assert.All(ours.Skip(5).SkipLast(1), c => Assert.Equal((TopologyChangeKind.BindingRemoved, exchangeBinding), (c.Kind, c.Binding)));
    }

    [Fact]
    public async Task TopologySnapshot_ContainsExchangesAndBindings_AndItsSerialSplitsTheEvents()
    {
        var connection = await OpenAsync();
        if (connection.Topology is not { } topology)
        {
            return; // The adapter cannot observe topology.
        }

        var changes = new ConcurrentQueue<TopologyChange>();
        using var subscription = topology.Subscribe(changes.Enqueue);
        var exchange = await DeclareExchangeAsync(connection, ExchangeSpec.Types.Direct);
        var queue = await DeclareQueueAsync(connection);
        var before = new BindingSpec(exchange, queue, BindingDestinationKind.Queue, "before");
        await connection.BindAsync(before, noWait: false, Ct);

        var snapshot = await topology.GetSnapshotAsync(Ct);
        var after = new BindingSpec(exchange, queue, BindingDestinationKind.Queue, "after");
        await connection.BindAsync(after, noWait: false, Ct);

        Assert.Contains(snapshot.Exchanges, e => e.Name == exchange && e.Type == ExchangeSpec.Types.Direct);
        Assert.Contains(before, snapshot.Bindings);
        Assert.DoesNotContain(after, snapshot.Bindings);
        Assert.DoesNotContain(snapshot.Exchanges, e => e.Name.Length == 0);
        await Eventually.TrueAsync(() => changes.Any(c => c.Binding == after), Patience, "the later binding should be reported");
        Assert.True(changes.Single(c => c.Binding == before).Serial <= snapshot.Serial);
        Assert.True(changes.Single(c => c.Binding == after).Serial > snapshot.Serial);
    }
}
