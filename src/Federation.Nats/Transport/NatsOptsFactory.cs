using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Builds the official client's <see cref="NatsOpts"/> for one connection: our defaults, then the user's configure callback
/// (as NATS.Client.Hosting users pass it), then what the URI says (<see cref="NatsConnectionOptions.Apply(string, NatsSecuritySettings, NatsOpts)"/>:
/// server, TLS, login), which is the most specific (one URI per upstream), then the connect timeout.
/// </summary>
/// <remarks>
/// The credentials never stay in <see cref="NatsOpts.Url"/>: the user part of the URI moves into <see cref="NatsOpts.AuthOpts"/>,
/// so the client's own logs and exceptions, which print the URL, cannot show them.
/// </remarks>
internal static class NatsOptsFactory
{
    private const int LinkBufferSize = 1024 * 1024;

    /// <summary>Options for a connection to <paramref name="serverUrl"/> (which may carry user information).</summary>
    /// <param name="serverUrl">The server URI without its query.</param>
    /// <param name="security">TLS and login from the URI.</param>
    /// <param name="connectionName">The connection name the server shows.</param>
    /// <param name="connectTimeout">The deadline of one connect attempt.</param>
    /// <param name="configure">The user's callback, or null.</param>
    /// <exception cref="IOException">The URI's <c>nkey-seed-file</c> cannot be read now.</exception>
    public static NatsOpts Create(string serverUrl, NatsSecuritySettings security, string connectionName, TimeSpan connectTimeout, Func<NatsOpts, NatsOpts>? configure)
    {
        // A link writes and reads in bursts of thousands of messages: with the client's 64 KiB pipe, a burst of a few
        // hundred messages already waits for the socket writer and every further publish takes the client's slow async
        // path (profiled). A larger pipe keeps publishes synchronous; the memory is per connection, not per message.
        // Header values are UTF-8 on the wire (the client's default, ASCII, turns "ü" into "?"): AMQP header strings are
        // Unicode, and nats-server passes the bytes through.
        var opts = NatsOpts.Default with
        {
            Name = connectionName,
            WriterBufferSize = LinkBufferSize,
            HeaderEncoding = System.Text.Encoding.UTF8,
        };
        if (configure is not null)
        {
            opts = configure(opts) ?? throw new InvalidOperationException("The NatsOpts configure callback returned null.");
        }

        return NatsConnectionOptions.Apply(serverUrl, security, opts) with { ConnectTimeout = connectTimeout };
    }
}
