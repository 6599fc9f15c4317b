using Microsoft.Extensions.Logging;

namespace Federation.Nats.JetStream;

/// <summary>Log events of the JetStream mode (64xx).</summary>
internal static partial class JetStreamLog
{
    [LoggerMessage(6401, LogLevel.Warning, "JetStream on {Uri}: the durable consumer '{Consumer}' of stream '{Stream}' was missing (deleted under the link); created again from stream sequence {Sequence}, right after the last one the link acknowledged, so nothing still in the stream is skipped")]
    public static partial void ConsumerRecreated(ILogger logger, string uri, string consumer, string stream, ulong sequence);
}
