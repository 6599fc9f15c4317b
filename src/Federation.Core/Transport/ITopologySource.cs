namespace Federation.Core.Transport;

/// <summary>
/// The downstream side's view of its own exchanges and bindings, as the federation plugin sees them from inside the broker.
/// Changes carry a serial number; they may arrive out of order and consumers order them by serial.
/// </summary>
public interface ITopologySource
{
    /// <summary>Subscribes to changes. Subscribe before taking a snapshot, then discard changes whose serial the snapshot covers.</summary>
    /// <param name="onChange">Called for each change; it must not block.</param>
    /// <returns>Disposing stops the notifications.</returns>
    IDisposable Subscribe(Action<TopologyChange> onChange);

    /// <summary>Returns every exchange and every binding whose source is an exchange, with the serial of the last change included.</summary>
    ValueTask<TopologySnapshot> GetSnapshotAsync(CancellationToken cancellationToken);
}

/// <summary>What changed.</summary>
public enum TopologyChangeKind
{
    /// <summary>An exchange was declared.</summary>
    ExchangeDeclared,
    /// <summary>An exchange was deleted, with its bindings.</summary>
    ExchangeDeleted,
    /// <summary>A binding was added.</summary>
    BindingAdded,
    /// <summary>A binding was removed.</summary>
    BindingRemoved,
}

/// <summary>One change to the downstream topology.</summary>
/// <param name="Serial">Strictly increasing per virtual host.</param>
/// <param name="Kind">What changed.</param>
/// <param name="Exchange">The exchange, for exchange changes.</param>
/// <param name="Binding">The binding, for binding changes.</param>
public sealed record TopologyChange(long Serial, TopologyChangeKind Kind, ExchangeSpec? Exchange = null, BindingSpec? Binding = null);

/// <summary>A consistent picture of a virtual host's exchanges and bindings.</summary>
/// <param name="Serial">The serial of the last change this snapshot includes.</param>
/// <param name="Exchanges">All exchanges.</param>
/// <param name="Bindings">All bindings whose source is an exchange.</param>
public sealed record TopologySnapshot(long Serial, IReadOnlyList<ExchangeSpec> Exchanges, IReadOnlyList<BindingSpec> Bindings);
