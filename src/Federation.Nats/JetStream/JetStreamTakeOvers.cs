using System.Collections.Concurrent;

namespace Federation.Nats.JetStream;

/// <summary>
/// The durable consumers that links of one transport created where the consumer of the queue they took the place of
/// stopped (<see cref="Federation.Core.Transport.QueueSpec.TakesOver"/>: at its acknowledgement floor), for as long as the
/// transport lives (the process). The engine asks whether a queue took another over on the connection that forwards the
/// old queue, not on the one that created the new consumer (<see cref="Federation.Core.Transport.IBrokerConnection.HasTakenOverAsync"/>).
/// </summary>
internal sealed class JetStreamTakeOvers
{
    private readonly ConcurrentDictionary<(string Consumer, string Retired), byte> _taken = new();

    /// <summary>Records that <paramref name="consumer"/> was created at the acknowledgement floor of <paramref name="retired"/>.</summary>
    public void Record(string consumer, string retired) => _taken[(consumer, retired)] = 0;

    /// <summary>Whether <paramref name="consumer"/> was created at the acknowledgement floor of <paramref name="retired"/>.</summary>
    public bool Took(string consumer, string retired) => _taken.ContainsKey((consumer, retired));

    /// <summary>Forgets a consumer the links deleted, on either side of a take-over.</summary>
    public void Forget(string consumer)
    {
        foreach (var key in _taken.Keys)
        {
            if (key.Consumer == consumer || key.Retired == consumer)
            {
                _taken.TryRemove(key, out _);
            }
        }
    }
}
