namespace Federation.Core.Transport;

/// <summary>Options for <see cref="IBrokerConnection.OpenLedgerAsync"/>.</summary>
/// <param name="Name">The ledger's name on the broker (for AMQP, a durable queue of that name).</param>
/// <param name="MaxBytes">
/// A bound on the bytes of records kept; when more are stored, the transport may drop the oldest records. Links size it so
/// that the newest window of identities always fits.
/// </param>
public sealed record LedgerOptions(string Name, long MaxBytes);
