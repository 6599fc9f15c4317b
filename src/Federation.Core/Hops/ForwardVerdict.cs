namespace Federation.Core.Hops;

/// <summary>Outcome of the forward check.</summary>
public enum ForwardVerdict
{
    /// <summary>The message may cross the link.</summary>
    Forward,
    /// <summary>The trail is already as long as the link's max-hops.</summary>
    MaxHopsExceeded,
    /// <summary>The message already left the (cluster, vhost) it would enter.</summary>
    Cycle,
}
