using System.Diagnostics;
using Federation.Core.Transport;

namespace Federation.Core.Diagnostics;

/// <summary>The forward spans, which carry a message's trace across federation.</summary>
public sealed partial class FederationTelemetry
{
    /// <summary>
    /// Starts the spans of one forward, before the link republishes <paramref name="properties"/> downstream. The consumer
    /// span <c>process {upstream exchange}</c> is parented by the trace context the message carries (its publisher's, or
    /// the previous hop's); the producer span <c>publish {downstream exchange}</c> is its child, and its context replaces
    /// the message's <c>traceparent</c>/<c>tracestate</c>, so the next hop continues the same trace. Call only when
    /// <see cref="ActivitySource"/> has listeners: without them a forward must not allocate.
    /// </summary>
    /// <param name="names">The link's span names and attribute values.</param>
    /// <param name="properties">The properties about to be republished; their headers get the new trace context.</param>
    /// <param name="routingKey">The message's routing key.</param>
    internal static ForwardSpans StartForward(ForwardSpanNames names, MessageProperties properties, string routingKey)
    {
        var previous = Activity.Current;

        // A message without trace context is processed under whatever is current (a client library's delivery span).
        var parent = TraceContextHeaders.Extract(properties.Headers);
        var process = ActivitySource.StartActivity(names.Process, ActivityKind.Consumer, parent);
        if (process is null)
        {
            // Not sampled: the message keeps the context it came with, so a later hop can still join its trace.
            return default;
        }

        if (process.IsAllDataRequested)
        {
            Tag(process, names.UpstreamSystem, MessagingAttributes.ProcessOperation, MessagingAttributes.ProcessOperation, names.UpstreamExchange, properties, routingKey, names);
        }

        var publish = ActivitySource.StartActivity(names.Publish, ActivityKind.Producer);
        if (publish is not null)
        {
            if (publish.IsAllDataRequested)
            {
                Tag(publish, names.DownstreamSystem, MessagingAttributes.SendOperationType, MessagingAttributes.PublishOperationName, names.DownstreamExchange, properties, routingKey, names);
            }

            properties.Headers ??= new Dictionary<string, object?>(StringComparer.Ordinal);
            TraceContextHeaders.Inject(publish, properties.Headers);
        }

        return new ForwardSpans(process, publish, previous);
    }

    private static void Tag(Activity activity, string system, string operationType, string operationName, string destination, MessageProperties properties, string routingKey, ForwardSpanNames names)
    {
        activity.SetTag(MessagingAttributes.System, system);
        activity.SetTag(MessagingAttributes.OperationType, operationType);
        activity.SetTag(MessagingAttributes.OperationName, operationName);
        activity.SetTag(MessagingAttributes.DestinationName, destination);
        if (properties.MessageId is { } messageId)
        {
            activity.SetTag(MessagingAttributes.MessageId, messageId);
        }

        if (properties.CorrelationId is { } correlationId)
        {
            activity.SetTag(MessagingAttributes.ConversationId, correlationId);
        }

        if (string.Equals(system, MessagingAttributes.RabbitMqSystem, StringComparison.Ordinal))
        {
            activity.SetTag(MessagingAttributes.RabbitMqRoutingKey, routingKey);
        }

        activity.SetTag(MessagingAttributes.FederationExchange, names.DownstreamExchange);
        activity.SetTag(MessagingAttributes.FederationUpstream, names.UpstreamName);
    }
}
