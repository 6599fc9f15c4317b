namespace Federation.Core.Transport;

/// <summary>
/// A small durable log on a broker that a link uses to remember which deliveries it has already forwarded, so that a
/// redelivery after a crash (of the upstream broker or of this process) is not published downstream a second time.
/// Opened with <see cref="IBrokerConnection.OpenLedgerAsync"/> on the downstream; one ledger per link.
/// </summary>
/// <remarks>
/// The records are opaque bytes to the transport. Not thread-safe: a link calls one method at a time.
/// </remarks>
public interface IDeliveryLedger : IAsyncDisposable
{
    /// <summary>
    /// Reads every record the ledger holds, oldest first. The records stay stored until <see cref="CompactAsync"/>
    /// replaces them; call it at most once, before <see cref="PublishAndRecordAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> ReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores the records of <paramref name="snapshot"/> durably, in this order, and then removes the records returned by
    /// <see cref="ReadAsync"/>. A crash in between leaves both, which is harmless: records are a union.
    /// </summary>
    /// <param name="snapshot">The records that replace the ones read. A snapshot comes in several records of at most
    /// 64 KiB each, so that it fits under a broker's message size limit however many entries it holds.</param>
    /// <param name="cancellationToken">Cancels the call; the old records then stay.</param>
    ValueTask CompactAsync(IReadOnlyList<ReadOnlyMemory<byte>> snapshot, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes <paramref name="messages"/> and appends <paramref name="record"/> as one unit: if the caller's process dies or
    /// its connection is lost, either every message was published and the record is stored, or nothing was. Completes when
    /// the broker has taken responsibility for all of it. Persistent messages are durable, and so is the record of a unit
    /// with a persistent message; a transport may keep the record of an all-transient unit as transiently as the messages
    /// (AMQP does, so that the commit does not wait for the broker's disk). A unit without messages (a record alone, such as
    /// a revocation) is always durable.
    /// </summary>
    /// <param name="messages">The messages, published in this order.</param>
    /// <param name="record">The ledger record that describes them.</param>
    /// <param name="cancellationToken">Cancels waiting; the unit may still be committed.</param>
    /// <exception cref="PublishNackedException">The broker refused the unit; nothing of it was published.</exception>
    /// <exception cref="MessageRefusedException">The message at its <see cref="MessageRefusedException.Index"/> can never be
    /// published on this connection (a <see cref="MessageTooLargeException"/> when it is too large); nothing of the unit
    /// was published, and the connection is unharmed, so the rest of the unit can be published without it.</exception>
    /// <exception cref="UnitPartlyCommittedException">The broker failed the commit after it may have stored the record and some
    /// of the messages while refusing others; the connection is unharmed.</exception>
    /// <exception cref="TransportException">The unit may or may not have been committed (for example the connection was lost while committing, or the broker did not answer the commit in time).</exception>
    ValueTask PublishAndRecordAsync(IReadOnlyList<LedgerMessage> messages, ReadOnlyMemory<byte> record, CancellationToken cancellationToken);
}
