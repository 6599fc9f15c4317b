using Federation.Testing.Brokers;

namespace Federation.Amqp.IntegrationTests;

/// <summary>
/// An upstream node with RabbitMQ's default <c>max_message_size</c> (128 MiB) and a downstream node that takes bodies of
/// at most <see cref="DownstreamLimit"/> bytes, set in its rabbitmq.conf: messages the upstream takes and the downstream never will.
/// </summary>
public sealed class SmallMessageLimitNodesFixture : RabbitMqNodePairFixture
{
    /// <summary>The downstream node's <c>max_message_size</c>.</summary>
    public const int DownstreamLimit = 4096;

    /// <inheritdoc />
    protected override IReadOnlyList<string> DownstreamConfiguration => [$"max_message_size = {DownstreamLimit}"];
}
