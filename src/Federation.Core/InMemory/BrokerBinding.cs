using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>A binding with its resolved destination, so routing never looks names up.</summary>
internal sealed class BrokerBinding(BindingSpec spec, BrokerExchange source, BrokerQueue? queue, BrokerExchange? exchange)
{
    public BindingSpec Spec { get; } = spec;

    public BrokerExchange Source { get; } = source;

    /// <summary>The destination queue, or <see langword="null"/> for an exchange-to-exchange binding.</summary>
    public BrokerQueue? Queue { get; } = queue;

    /// <summary>The destination exchange, or <see langword="null"/> for a queue binding.</summary>
    public BrokerExchange? Exchange { get; } = exchange;
}
