namespace Federation.Core.Transport;

/// <summary>An upstream setting a transport cannot honour, as <see cref="ITransport.ValidateUpstream"/> reports it.</summary>
/// <param name="Key">The setting's key as configuration spells it, such as <see cref="UpstreamSettings.PrefetchCountKey"/>; the caller puts the upstream's path before it.</param>
/// <param name="Problem">One sentence naming the value and the transport's limit, without the URI or its credentials.</param>
public sealed record UpstreamSettingProblem(string Key, string Problem);
