using System.Diagnostics;
using System.Text;

namespace Federation.Core.Diagnostics;

/// <summary>
/// Reads and writes the W3C trace context (<c>traceparent</c>, <c>tracestate</c>, and whatever else the process's
/// <see cref="DistributedContextPropagator.Current"/> carries) in a message's header table. Both client libraries the
/// adapters use (RabbitMQ.Client and NATS.Client.Core) read and write the same header names through the same propagator,
/// and both replace a header rather than add a second one, so their own publish spans continue the chain.
/// </summary>
internal static class TraceContextHeaders
{
    private static readonly DistributedContextPropagator.PropagatorGetterCallback Getter = static (object? carrier, string name, out string? value, out IEnumerable<string>? values) =>
    {
        values = null;
        value = carrier is IReadOnlyDictionary<string, object?> headers && headers.TryGetValue(name, out var raw)
            ? raw switch
            {
                string text => text,
                byte[] bytes => Encoding.UTF8.GetString(bytes), // a client that did not normalise a long string
                _ => null,
            }
            : null;
    };

    private static readonly DistributedContextPropagator.PropagatorSetterCallback Setter = static (carrier, name, value) =>
    {
        if (carrier is Dictionary<string, object?> headers)
        {
            headers[name] = value;
        }
    };

    /// <summary>The trace context a message carries, or <see langword="default"/> when it carries none (or a malformed one).</summary>
    public static ActivityContext Extract(Dictionary<string, object?>? headers)
    {
        if (headers is null || headers.Count == 0)
        {
            return default;
        }

        DistributedContextPropagator.Current.ExtractTraceIdAndState(headers, Getter, out var traceParent, out var traceState);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
    }

    /// <summary>The W3C header that carries the trace and parent span ids.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>The W3C header that carries vendor trace state.</summary>
    public const string TraceState = "tracestate";

    /// <summary>
    /// Writes <paramref name="activity"/>'s context into <paramref name="headers"/> in place of the one it carried. The old
    /// pair goes first: a propagator writes <c>tracestate</c> only when there is one, and a stale one must not stay behind.
    /// Other propagated headers (W3C <c>baggage</c>) travel on unchanged.
    /// </summary>
    public static void Inject(Activity activity, Dictionary<string, object?> headers)
    {
        headers.Remove(TraceParent);
        headers.Remove(TraceState);
        DistributedContextPropagator.Current.Inject(activity, headers, Setter);
    }
}
