using System.Diagnostics;
using Federation.Core.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Federation.Transport.Contracts.Tracing;

/// <summary>
/// Records spans with the OpenTelemetry SDK and its in-memory exporter: the library's forward spans, the test publisher's
/// root spans and any client library's source the test names. Listeners are process-wide, so other tests' spans are
/// recorded too: everything is read per trace id.
/// </summary>
public sealed class TraceRecorder : IDisposable
{
    /// <summary>The source of the spans that stand for an application publishing the first message.</summary>
    public const string PublisherSourceName = "Federation.Tests.Publisher";

    private static readonly ActivitySource Publisher = new(PublisherSourceName);
    private readonly LockedCollection<Activity> _spans = new();
    private readonly TracerProvider _provider;

    /// <param name="clientSources">Client libraries' sources to record as well (their publish spans sit between the hops).</param>
    public TraceRecorder(params string[] clientSources)
    {
        _provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(FederationTelemetry.SourceName, PublisherSourceName)
            .AddSource(clientSources)
            .SetSampler(new AlwaysOnSampler())
            .AddInMemoryExporter(_spans)
            .Build()!;
    }

    /// <summary>
    /// Starts an application's publish span (a new trace) and returns it with the W3C headers it puts on its message.
    /// Current until disposed, so a client library publishing meanwhile nests its own span under it.
    /// </summary>
    public static (Activity Span, Dictionary<string, object?> Headers) StartPublish(string destination)
    {
        Activity.Current = null; // a new trace, whatever the test runner has current
        var span = Publisher.StartActivity("publish " + destination, ActivityKind.Producer)
            ?? throw new InvalidOperationException("The publisher's span was not sampled: is a TraceRecorder alive?");
        var headers = new Dictionary<string, object?>(StringComparer.Ordinal) { ["traceparent"] = span.Id };
        span.TraceStateString = "federation-test=1";
        headers["tracestate"] = span.TraceStateString;
        return (span, headers);
    }

    /// <summary>The ended spans of one trace, in the order they ended.</summary>
    public IReadOnlyList<Activity> SpansOf(ActivityTraceId traceId) => [.. _spans.Snapshot().Where(s => s.TraceId == traceId)];

    /// <summary>Waits until the trace has <paramref name="forwards"/> forwards' spans (two each) and the root has ended.</summary>
    public async Task<IReadOnlyList<Activity>> WaitForForwardsAsync(ActivityTraceId traceId, int forwards, TimeSpan timeout)
    {
        IReadOnlyList<Activity> spans = [];
        try
        {
            await Eventually.TrueAsync(
                () => (spans = SpansOf(traceId)).Count(s => s.Source.Name == FederationTelemetry.SourceName) >= 2 * forwards
                    && spans.Any(s => s.Source.Name == PublisherSourceName),
                timeout);
        }
        catch (TimeoutException)
        {
            var forwardSpans = _spans.Snapshot().Where(s => s.Source.Name == FederationTelemetry.SourceName).TakeLast(12);
            throw new TimeoutException(
                $"Expected {2 * forwards} forward spans and the publisher's span in trace {traceId}; it has [{Describe(spans)}]. "
                + $"The last forward spans of any trace: [{Describe(forwardSpans)}]");
        }

        return SpansOf(traceId);
    }

    private static string Describe(IEnumerable<Activity> spans) =>
        string.Join("; ", spans.Select(s => $"{s.Source.Name} '{s.DisplayName}' {s.Kind} {s.TraceId}/{s.SpanId} parent {s.ParentSpanId}"));

    public void Dispose() => _provider.Dispose();
}
