namespace Federation.Core.Transport;

/// <summary>
/// The settings of one upstream, or of one upstream set element, that a transport may be unable to honour, as configured:
/// what <see cref="ITransport.ValidateUpstream"/> checks. A value is null when that upstream or element does not set it
/// (it then comes from the upstream, or the default, which is checked where it is set).
/// </summary>
public sealed record UpstreamSettings
{
    /// <summary>The key of <see cref="PrefetchCount"/>, as configuration spells it.</summary>
    public const string PrefetchCountKey = "prefetch-count";

    /// <summary><c>prefetch-count</c>: unacknowledged messages in flight per link; null when not set here.</summary>
    public int? PrefetchCount { get; init; }
}
