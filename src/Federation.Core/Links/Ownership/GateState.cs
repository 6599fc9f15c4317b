namespace Federation.Core.Links.Ownership;

/// <summary>Where a link stands with its lease, as its <see cref="LinkPlacementGate"/> sees it.</summary>
internal enum GateState
{
    /// <summary>Neither waiting nor holding (connecting to the downstream, or a transport without leases).</summary>
    Idle,

    /// <summary>Placement puts the link elsewhere: it does not ask for the lease until placement or its fallback time says so.</summary>
    Standby,

    /// <summary>It asked and was refused; it asks again after its poll delay, or at once when placement changes.</summary>
    Polling,

    /// <summary>It holds the lease; it hands the link over when placement puts it on a settled other instance.</summary>
    Holding,
}
