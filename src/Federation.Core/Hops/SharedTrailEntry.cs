namespace Federation.Core.Hops;

/// <summary>
/// One hop's <c>x-received-from</c> table, built once and shared by every message a link session forwards (the same hop
/// for each), together with the whole trail of a message that arrives without one: a one-element array holding that table.
/// Like every trail value, both are only read once written into a message, never modified, so sharing them is safe; building
/// them per message was a quarter of a NATS link's allocations.
/// </summary>
internal sealed class SharedTrailEntry
{
    public SharedTrailEntry(Dictionary<string, object?> table)
    {
        Table = table;
        SoleTrail = new List<object?>(1) { table };
    }

    /// <summary>The hop's trail table.</summary>
    public Dictionary<string, object?> Table { get; }

    /// <summary>The trail of a message that had none: <see cref="Table"/> alone.</summary>
    public List<object?> SoleTrail { get; }
}
