using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>An exchange with its bindings (as source). Subclasses implement one exchange type's routing. Guarded by the virtual host lock.</summary>
internal abstract class BrokerExchange(ExchangeSpec spec)
{
    private readonly Dictionary<BindingSpec, BrokerBinding> bindingsBySpec = [];

    public ExchangeSpec Spec { get; } = spec;

    /// <summary>Bindings whose source is this exchange, in the order they were added.</summary>
    public List<BrokerBinding> Bindings { get; } = [];

    /// <summary>Exchange-to-exchange bindings whose destination is this exchange.</summary>
    public List<BrokerBinding> IncomingBindings { get; } = [];

    public static BrokerExchange Create(ExchangeSpec spec, bool supportsFederationExchangeType) => spec.Type switch
    {
        ExchangeSpec.Types.Direct => new DirectExchange(spec),
        ExchangeSpec.Types.Fanout => new FanoutExchange(spec),
        ExchangeSpec.Types.Topic => new TopicExchange(spec),
        ExchangeSpec.Types.Headers => new HeadersExchange(spec),
        ExchangeSpec.Types.FederationUpstream when supportsFederationExchangeType => new FederationUpstreamExchange(spec),
        _ => throw new ExchangeTypeNotSupportedException($"COMMAND_INVALID - unknown exchange type '{spec.Type}' (exchange '{spec.Name}')."),
    };

    public bool TryGetBinding(BindingSpec spec, out BrokerBinding binding) => bindingsBySpec.TryGetValue(spec, out binding!);

    public void AddBinding(BrokerBinding binding)
    {
        bindingsBySpec.Add(binding.Spec, binding);
        Bindings.Add(binding);
        OnBindingAdded(binding);
    }

    public void RemoveBinding(BrokerBinding binding)
    {
        bindingsBySpec.Remove(binding.Spec);
        Bindings.Remove(binding);
        OnBindingRemoved(binding);
    }

    /// <summary>Adds the destinations of the bindings that match the message to <paramref name="targets"/>.</summary>
    public abstract void Route(string routingKey, MessageProperties properties, RoutingTargets targets);

    /// <summary>Lets a subclass index a new binding.</summary>
    protected virtual void OnBindingAdded(BrokerBinding binding)
    {
    }

    /// <summary>Lets a subclass drop a removed binding from its index.</summary>
    protected virtual void OnBindingRemoved(BrokerBinding binding)
    {
    }
}
