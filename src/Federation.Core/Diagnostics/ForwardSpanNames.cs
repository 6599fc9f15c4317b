namespace Federation.Core.Diagnostics;

/// <summary>
/// What the spans of one link's forwards are named and tagged with, computed once per link session so that a forward
/// builds no strings.
/// </summary>
/// <param name="UpstreamExchange">The exchange the link consumes from, upstream.</param>
/// <param name="UpstreamSystem">The upstream's <c>messaging.system</c>.</param>
/// <param name="DownstreamExchange">The exchange the link republishes to, downstream.</param>
/// <param name="DownstreamSystem">The downstream's <c>messaging.system</c>.</param>
/// <param name="UpstreamName">The upstream's configured name (<c>federation.upstream</c>).</param>
internal sealed record ForwardSpanNames(string UpstreamExchange, string UpstreamSystem, string DownstreamExchange, string DownstreamSystem, string UpstreamName)
{
    /// <summary>The consumer span: <c>process {upstream exchange}</c>.</summary>
    public string Process { get; } = MessagingAttributes.ProcessOperation + " " + UpstreamExchange;

    /// <summary>The producer span: <c>publish {downstream exchange}</c>.</summary>
    public string Publish { get; } = MessagingAttributes.PublishOperationName + " " + DownstreamExchange;
}
