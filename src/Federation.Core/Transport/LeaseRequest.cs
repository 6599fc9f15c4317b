namespace Federation.Core.Transport;

/// <summary>Asks <see cref="IBrokerLeases.TryAcquireAsync"/> for one lease.</summary>
/// <param name="Name">
/// The lease's name, unique per guarded resource on the broker. On AMQP it is the name of the exclusive queue, so it
/// follows queue-name rules (at most 255 UTF-8 bytes).
/// </param>
/// <param name="Holder">
/// Who asks, as people should read it in status (a host and process, say). The broker keeps it with the lease where it
/// can, so that a later asker learns who holds it.
/// </param>
public sealed record LeaseRequest(string Name, string Holder);
