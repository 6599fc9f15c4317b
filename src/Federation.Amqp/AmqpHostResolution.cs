using System.Net.Sockets;

namespace Federation.Amqp;

/// <summary>
/// Names a host that does not resolve. RabbitMQ.Client reports it as "None of the specified endpoints were reachable"
/// around a <see cref="SocketException"/> whose text ("Name or service not known") names no host, so an operator read a
/// typo in the host name as a broker that is down.
/// </summary>
internal static class AmqpHostResolution
{
    /// <summary>Why <paramref name="host"/> could not be reached when <paramref name="error"/> (or a cause of it) is a failed name lookup; else null.</summary>
    public static string? Describe(Exception error, string host)
    {
        for (var cause = error; cause is not null; cause = cause.InnerException)
        {
            if (cause is SocketException socket && Describe(socket, host) is { } text)
            {
                return text;
            }
        }

        return null;
    }

    private static string? Describe(SocketException error, string host) => error.SocketErrorCode switch
    {
        SocketError.HostNotFound => $"host '{host}' does not resolve ({error.Message}): check the host name in the URI",
        SocketError.NoData => $"host '{host}' does not resolve to an address ({error.Message}): check the host name in the URI",
        SocketError.TryAgain => $"host '{host}' does not resolve now ({error.Message}: the name server failed or did not answer; this is retried)",
        _ => null,
    };
}
