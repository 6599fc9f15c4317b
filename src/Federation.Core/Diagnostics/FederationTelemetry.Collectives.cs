namespace Federation.Core.Diagnostics;

/// <summary>The Federation of Collectives' instruments, created on first use so hosts without a federation broker do not export them.</summary>
public sealed partial class FederationTelemetry
{
    private FederationBrokerInstruments? _brokerInstruments;

    /// <summary>The federation broker's counters and histogram, on this telemetry's meter.</summary>
    internal FederationBrokerInstruments BrokerInstruments =>
        LazyInitializer.EnsureInitialized(ref _brokerInstruments, () => new FederationBrokerInstruments(_meter));
}
