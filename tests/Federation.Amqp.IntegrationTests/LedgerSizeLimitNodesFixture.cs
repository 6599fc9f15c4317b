using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// A downstream node whose <c>max_message_size</c> (<see cref="DownstreamLimit"/>, set in its rabbitmq.conf) takes every
/// forwarded message and a unit's ledger record, but not a duplicate-suppression snapshot of some thousands of identities
/// in one message: an operator's lowered limit, as 1 MiB is to a full window's 2.4 MB.
/// </summary>
public sealed class LedgerSizeLimitNodesFixture : RabbitMqNodePairFixture
{
    /// <summary>The downstream node's <c>max_message_size</c>: over a 64 KiB snapshot part, under 5,000 identities (120 kB).</summary>
    public const int DownstreamLimit = 100_000;

    /// <inheritdoc />
    protected override IReadOnlyList<string> DownstreamConfiguration => [$"max_message_size = {DownstreamLimit}"];
}
