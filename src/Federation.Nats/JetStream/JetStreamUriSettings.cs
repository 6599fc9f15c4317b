using System.Globalization;

namespace Federation.Nats.JetStream;

/// <summary>
/// The JetStream keys of a NATS transport URI (<c>jetstream=true</c> and the keys that only apply with it). With them a
/// link is durable: a stream captures the federated subjects, a durable pull consumer replaces the emulated queue, and
/// publishes are confirmed by JetStream's PubAck (see <see cref="JetStreamBrokerConnection"/>).
/// </summary>
/// <param name="Stream">An existing stream to use instead of the one the link creates for an exchange; null: derived from the exchange.</param>
/// <param name="AckWait">The durable consumer's ack wait: how long a delivered, unacknowledged message waits before redelivery.</param>
/// <param name="DuplicateWindow">The duplicate window of a stream the link creates: redeliveries within it are dropped by <c>Nats-Msg-Id</c>.</param>
internal sealed record JetStreamUriSettings(string? Stream, TimeSpan AckWait, TimeSpan DuplicateWindow)
{
    /// <summary>Query key: <c>true</c> turns JetStream mode on.</summary>
    public const string JetStreamKey = "jetstream";

    /// <summary>Query key: the name of an existing stream to use.</summary>
    public const string StreamKey = "stream";

    /// <summary>Query key: the consumer's ack wait in milliseconds.</summary>
    public const string AckWaitKey = "ack-wait-ms";

    /// <summary>Query key: the duplicate window of a created stream in milliseconds.</summary>
    public const string DuplicateWindowKey = "duplicate-window-ms";

    /// <summary>JetStream's own default ack wait.</summary>
    public static readonly TimeSpan DefaultAckWait = TimeSpan.FromSeconds(30);

    /// <summary>JetStream's own default duplicate window.</summary>
    public static readonly TimeSpan DefaultDuplicateWindow = TimeSpan.FromMinutes(2);

    /// <summary>Every JetStream query key.</summary>
    public static readonly IReadOnlyList<string> QueryKeys = [JetStreamKey, StreamKey, AckWaitKey, DuplicateWindowKey];

    /// <summary>Collects the JetStream keys while the URI's query is read.</summary>
    internal sealed class Builder
    {
        private bool _enabled;
        private readonly List<string> _given = [];
        private string? _stream;
        private TimeSpan _ackWait = DefaultAckWait;
        private TimeSpan _duplicateWindow = DefaultDuplicateWindow;

        /// <summary>Reads one JetStream key (one of <see cref="QueryKeys"/>); a bad value adds a problem naming the key and the value.</summary>
        public void Read(string key, string value, List<string> problems)
        {
            _given.Add(key);
            switch (key)
            {
                case JetStreamKey when bool.TryParse(value, out var enabled): _enabled = enabled; break;
                case JetStreamKey: problems.Add($"has '{JetStreamKey}={value}': it must be true or false"); break;
                case StreamKey when IsStreamName(value): _stream = value; break;
                case StreamKey: problems.Add($"has '{StreamKey}={value}': a stream name is not empty and has no whitespace, '.', '*', '>', '/' or '\\'"); break;
                case AckWaitKey when TryMilliseconds(value, out var ackWait): _ackWait = ackWait; break;
                case DuplicateWindowKey when TryMilliseconds(value, out var window): _duplicateWindow = window; break;
                default: problems.Add($"has '{key}={value}': it must be a positive number of milliseconds"); break;
            }
        }

        /// <summary>The settings, or null when JetStream mode is off; keys that need <c>jetstream=true</c> without it are problems.</summary>
        public JetStreamUriSettings? Build(List<string> problems)
        {
            if (_enabled)
            {
                return new JetStreamUriSettings(_stream, _ackWait, _duplicateWindow);
            }

            foreach (var key in _given.Where(k => k != JetStreamKey).Distinct())
            {
                problems.Add($"has '{key}', which only applies with '{JetStreamKey}=true'");
            }

            return null;
        }

        private static bool TryMilliseconds(string value, out TimeSpan duration)
        {
            var ok = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms > 0;
            duration = ok ? TimeSpan.FromMilliseconds(ms) : default;
            return ok;
        }

        private static bool IsStreamName(string value) =>
            value.Length > 0 && !value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '.' or '*' or '>' or '/' or '\\');
    }
}
