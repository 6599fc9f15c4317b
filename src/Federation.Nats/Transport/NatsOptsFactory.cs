using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>
/// Builds the official client's <see cref="NatsOpts"/> for one connection: our defaults, then the user's configure callback
/// (as NATS.Client.Hosting users pass it), then what the URI says, which is the most specific (one URI per upstream).
/// </summary>
/// <remarks>
/// The credentials never stay in <see cref="NatsOpts.Url"/>: the user part of the URI moves into <see cref="NatsOpts.AuthOpts"/>
/// (<c>user:password@</c> or <c>token@</c>), so the client's own logs and exceptions, which print the URL, cannot show them.
/// </remarks>
internal static class NatsOptsFactory
{
    private const int LinkBufferSize = 1024 * 1024;

    /// <summary>Options for a connection to <paramref name="serverUrl"/> (which may carry user information).</summary>
    /// <param name="serverUrl">The server URI without its query.</param>
    /// <param name="connectionName">The connection name the server shows.</param>
    /// <param name="connectTimeout">The deadline of one connect attempt.</param>
    /// <param name="configure">The user's callback, or null.</param>
    public static NatsOpts Create(string serverUrl, string connectionName, TimeSpan connectTimeout, Func<NatsOpts, NatsOpts>? configure)
    {
        var parsed = new Uri(serverUrl, UriKind.Absolute);
        // A link writes and reads in bursts of thousands of messages: with the client's 64 KiB pipe, a burst of a few
        // hundred messages already waits for the socket writer and every further publish takes the client's slow async
        // path (profiled). A larger pipe keeps publishes synchronous; the memory is per connection, not per message.
        var opts = NatsOpts.Default with { Name = connectionName, WriterBufferSize = LinkBufferSize, ReaderBufferSize = LinkBufferSize };
        if (configure is not null)
        {
            opts = configure(opts) ?? throw new InvalidOperationException("The NatsOpts configure callback returned null.");
        }

        var port = parsed.IsDefaultPort || parsed.Port < 0 ? 4222 : parsed.Port;
        opts = opts with
        {
            Url = $"{parsed.Scheme}://{HostForUrl(parsed)}:{port}",
            ConnectTimeout = connectTimeout,
        };

        if (parsed.UserInfo.Length > 0)
        {
            var colon = parsed.UserInfo.IndexOf(':', StringComparison.Ordinal);
            opts = opts with
            {
                AuthOpts = colon < 0
                    ? opts.AuthOpts with { Token = Uri.UnescapeDataString(parsed.UserInfo) }
                    : opts.AuthOpts with
                    {
                        Username = Uri.UnescapeDataString(parsed.UserInfo[..colon]),
                        Password = Uri.UnescapeDataString(parsed.UserInfo[(colon + 1)..]),
                    },
            };
        }

        if (parsed.Scheme == "tls" && opts.TlsOpts.Mode is TlsMode.Auto or TlsMode.Prefer or TlsMode.Disable)
        {
            opts = opts with { TlsOpts = opts.TlsOpts with { Mode = TlsMode.Require } };
        }

        return opts;
    }

    private static string HostForUrl(Uri parsed) => parsed.HostNameType == UriHostNameType.IPv6 ? $"[{parsed.IdnHost.Trim('[', ']')}]" : parsed.IdnHost;
}
