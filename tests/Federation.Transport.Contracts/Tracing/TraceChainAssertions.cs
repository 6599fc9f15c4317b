using System.Diagnostics;
using Federation.Core.Diagnostics;
using Xunit;

namespace Federation.Transport.Contracts.Tracing;

/// <summary>Checks that one trace crossed a chain of federation links as designed.</summary>
public static class TraceChainAssertions
{
    /// <summary>
    /// Asserts the shape of one message's trace across <paramref name="forwards"/> links in a chain: a single trace id;
    /// per hop a consumer span <c>process {exchange}</c> whose nearest recorded ancestor among the publisher's root and
    /// the forwards' producer spans is the previous hop's producer span (the root for the first hop), and under it a
    /// producer span <c>publish {exchange}</c>; the OpenTelemetry messaging attribute names and values; and a delivered
    /// message whose <c>traceparent</c> descends from the last hop's producer span. Client libraries' spans may sit
    /// between a hop's producer span and the next hop (they re-inject the headers under their own publish span).
    /// </summary>
    /// <returns>The forwards' consumer (process) spans, first hop first.</returns>
    public static IReadOnlyList<Activity> AssertChain(
        IReadOnlyList<Activity> spans,
        Activity root,
        int forwards,
        string exchange,
        string system,
        string messageId,
        string deliveredTraceParent)
    {
        Assert.All(spans, s => Assert.Equal(root.TraceId, s.TraceId));
        var byId = spans.ToDictionary(s => s.SpanId);
        var ours = spans.Where(s => s.Source.Name == FederationTelemetry.SourceName).ToList();
        var process = ours.Where(s => s.Kind == ActivityKind.Consumer).ToList();
        var publish = ours.Where(s => s.Kind == ActivityKind.Producer).ToList();
        Assert.Equal(forwards, process.Count);
        Assert.Equal(forwards, publish.Count);

        // Order the hops along the chain: each process span descends from the previous hop's publish span.
        var anchors = new HashSet<ActivitySpanId>(publish.Select(p => p.SpanId)) { root.SpanId };
        var ordered = new List<Activity>();
        var previous = root;
        for (var hop = 0; hop < forwards; hop++)
        {
            var next = Assert.Single(process, p => NearestAnchor(p, byId, anchors) == previous.SpanId);
            var forward = Assert.Single(publish, p => p.ParentSpanId == next.SpanId);
            ordered.Add(next);

            Assert.Equal("process " + exchange, next.DisplayName);
            AssertTag(next, "messaging.system", system);
            AssertTag(next, "messaging.operation.type", "process");
            AssertTag(next, "messaging.operation.name", "process");
            AssertTag(next, "messaging.destination.name", exchange);
            AssertTag(next, "messaging.message.id", messageId);
            Assert.Equal(ActivityStatusCode.Unset, next.Status);

            Assert.Equal("publish " + exchange, forward.DisplayName);
            AssertTag(forward, "messaging.system", system);
            AssertTag(forward, "messaging.operation.type", "send");
            AssertTag(forward, "messaging.operation.name", "publish");
            AssertTag(forward, "messaging.destination.name", exchange);
            AssertTag(forward, "messaging.message.id", messageId);
            Assert.Equal(ActivityStatusCode.Unset, forward.Status);
            previous = forward;
        }

        Assert.True(ActivityContext.TryParse(deliveredTraceParent, null, out var delivered), $"the delivered traceparent '{deliveredTraceParent}' parses");
        Assert.Equal(root.TraceId, delivered.TraceId);
        Assert.True(delivered.SpanId == previous.SpanId || (byId.TryGetValue(delivered.SpanId, out var carrier) && NearestAnchor(carrier, byId, anchors) == previous.SpanId),
            "the delivered message carries the last hop's producer span (or a client's publish span under it)");
        return ordered;
    }

    private static ActivitySpanId NearestAnchor(Activity span, Dictionary<ActivitySpanId, Activity> byId, HashSet<ActivitySpanId> anchors)
    {
        var parent = span.ParentSpanId;
        while (!anchors.Contains(parent) && byId.TryGetValue(parent, out var up))
        {
            parent = up.ParentSpanId;
        }

        return parent;
    }

    private static void AssertTag(Activity span, string name, string expected) =>
        Assert.True(Equals(expected, span.GetTagItem(name)), $"{span.DisplayName}: {name} should be '{expected}', is '{span.GetTagItem(name)}'");
}
