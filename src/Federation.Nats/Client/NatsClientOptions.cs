using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Federation.Nats.Client;

/// <summary>What a subscription does when its bounded buffer is full (the reader is slower than the publishers).</summary>
/// <remarks>
/// There is deliberately no "block" mode: blocking would stall the connection's single read loop, starve every other
/// subscription and get the client disconnected by the server as a slow consumer. Dropped messages are counted per
/// subscription (<see cref="NatsSubscription.DroppedMessages"/>) and per connection (<see cref="NatsStatistics.DroppedMessages"/>).
/// </remarks>
public enum SlowConsumerPolicy
{
    /// <summary>Drop the message that just arrived, keeping what is buffered (nats.net's default behaviour).</summary>
    DropIncoming,

    /// <summary>Drop the oldest buffered message to make room for the one that just arrived.</summary>
    DropOldest,
}

/// <summary>TLS settings; TLS is used for <c>tls://</c> URLs and whenever the server's INFO says <c>tls_required</c>.</summary>
public sealed record TlsOptions
{
    /// <summary>Host name to validate the server certificate against (default: the URL's host).</summary>
    public string? TargetHost { get; init; }

    /// <summary>Custom server certificate validation; null uses the platform's default validation.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; init; }

    /// <summary>Client certificates for mutual TLS.</summary>
    public X509CertificateCollection? ClientCertificates { get; init; }

    /// <summary>Allowed protocol versions (default: let the OS choose).</summary>
    public SslProtocols EnabledProtocols { get; init; } = SslProtocols.None;
}

/// <summary>Options of a <see cref="NatsConnection"/>; an immutable record, change it with <c>with { ... }</c>.</summary>
public sealed record NatsClientOptions
{
    /// <summary>The defaults (nats.net's where they exist).</summary>
    public static NatsClientOptions Default { get; } = new();

    /// <summary>
    /// Server URLs (<c>nats://host:port</c> or <c>tls://host:port</c>), tried in order and rotated on reconnect. A URL may
    /// carry <c>user:password@</c> or <c>token@</c>; credentials are never logged nor put into exception messages.
    /// </summary>
    public IReadOnlyList<string> Servers { get; init; } = ["nats://127.0.0.1:4222"];

    /// <summary>Connection name reported to the server.</summary>
    public string? Name { get; init; }

    /// <summary>User name (overrides one in the URL).</summary>
    public string? User { get; init; }

    /// <summary>Password (overrides one in the URL).</summary>
    public string? Password { get; init; }

    /// <summary>Authentication token (overrides one in the URL).</summary>
    public string? Token { get; init; }

    /// <summary>Whether the server delivers this connection's own publishes to its own subscriptions (false for federation links).</summary>
    public bool Echo { get; init; } = true;

    /// <summary>Ask the server to acknowledge every command with +OK (off; only useful for debugging).</summary>
    public bool Verbose { get; init; }

    /// <summary>Ask the server for strict subject checking (off).</summary>
    public bool Pedantic { get; init; }

    /// <summary>Announce header support (needed for HPUB/HMSG and no-responders).</summary>
    public bool Headers { get; init; } = true;

    /// <summary>Ask for immediate 503 replies on requests nobody listens to (requires <see cref="Headers"/>).</summary>
    public bool NoResponders { get; init; } = true;

    /// <summary>How often the client pings the server.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Unanswered pings after which the connection is declared stale and re-established.</summary>
    public int MaxPingsOut { get; init; } = 2;

    /// <summary>First wait between reconnect attempts; doubles up to <see cref="ReconnectWaitMax"/>.</summary>
    public TimeSpan ReconnectWaitMin { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest wait between reconnect attempts.</summary>
    public TimeSpan ReconnectWaitMax { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Random extra wait added to every reconnect wait.</summary>
    public TimeSpan ReconnectJitter { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Reconnect attempts before the connection gives up and closes; -1 retries forever.</summary>
    public int MaxReconnectAttempts { get; init; } = -1;

    /// <summary>Time allowed for TCP connect + INFO + TLS + CONNECT/PING→PONG.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Default timeout of <see cref="NatsConnection.RequestAsync"/>.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Messages buffered per subscription before <see cref="SlowConsumerPolicy"/> applies.</summary>
    public int SubscriptionBufferCapacity { get; init; } = 16 * 1024;

    /// <summary>What a full subscription buffer does.</summary>
    public SlowConsumerPolicy SlowConsumerPolicy { get; init; } = SlowConsumerPolicy.DropIncoming;

    /// <summary>Bytes queued for the socket above which publishers wait (back-pressure).</summary>
    public long WriteBufferLimit { get; init; } = 8 * 1024 * 1024;

    /// <summary>Longest control line accepted from the server.</summary>
    public int MaxControlLine { get; init; } = 4096;

    /// <summary>Prefix of the request/reply inbox.</summary>
    public string InboxPrefix { get; init; } = "_INBOX";

    /// <summary>Add the cluster members a server announces in INFO <c>connect_urls</c> to the reconnect rotation.</summary>
    public bool DiscoverServers { get; init; } = true;

    /// <summary>TLS settings (used for tls:// URLs or when the server requires TLS).</summary>
    public TlsOptions? Tls { get; init; }
}
