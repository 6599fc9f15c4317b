namespace Federation.Core.InMemory;

/// <summary>What <see cref="InMemoryBroker.PublishInterceptor"/> lets the broker do with a publish.</summary>
public enum PublishOutcome
{
    /// <summary>Route and confirm the message normally.</summary>
    Accept,
    /// <summary>Do not route the message; a confirming publisher's publish fails with <see cref="Transport.PublishNackedException"/>.</summary>
    Nack,
    /// <summary>Do not route the message and lose the publishing connection before the confirm.</summary>
    DropConnection,
}
