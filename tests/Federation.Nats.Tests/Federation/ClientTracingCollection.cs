namespace Federation.Nats.Tests.Federation;

/// <summary>
/// Tests that listen to NATS.Client.Core's activity source run alone. While a listener is alive, the client writes a
/// <c>traceparent</c> header into every message that any test in this process publishes, so a test running meanwhile
/// that expects a message without headers would see one (seen once: the subject-transport contract's
/// <c>AMessageWithoutHeaders_ArrivesWithNullHeaders</c>).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClientTracingCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "NATS.Client.Core tracing";
}
