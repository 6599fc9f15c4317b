using System.Net;
using System.Net.Sockets;

namespace Federation.Nats.Transport;

/// <summary>
/// Names a host that does not resolve. NATS.Client.Core reports a failed connect as "can not connect uris: ..." and keeps
/// the cause (the DNS error) to its own log, so an operator read a typo in the host name as a server that is down. After a
/// failed connect that did not time out, the host is looked up once more (the same system resolver the client used), and a
/// failed lookup is named.
/// </summary>
internal static class NatsHostResolution
{
    // The lookup only explains a failure that already happened: it must not hold a retry loop behind a slow name server.
    private static readonly TimeSpan LookupDeadline = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Why the host of <paramref name="url"/> could not be reached when its name does not resolve; null when it resolves,
    /// when the URL names an address, several servers or none, or when the lookup itself takes too long.
    /// </summary>
    public static async Task<string?> DescribeAsync(string? url, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(url) || url.Contains(',', StringComparison.Ordinal)
            || !Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.HostNameType != UriHostNameType.Dns)
        {
            return null;
        }

        try
        {
            _ = await Dns.GetHostAddressesAsync(parsed.IdnHost, cancellationToken).WaitAsync(LookupDeadline, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (SocketException error)
        {
            return Describe(error, parsed.IdnHost);
        }
        catch (Exception error) when (error is TimeoutException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The text for a failed lookup of <paramref name="host"/>, or null for a socket error that is not one.</summary>
    public static string? Describe(SocketException error, string host) => error.SocketErrorCode switch
    {
        SocketError.HostNotFound => $"host '{host}' does not resolve ({error.Message}): check the host name in the URI",
        SocketError.NoData => $"host '{host}' does not resolve to an address ({error.Message}): check the host name in the URI",
        SocketError.TryAgain => $"host '{host}' does not resolve now ({error.Message}: the name server failed or did not answer; this is retried)",
        _ => null,
    };
}
