using NATS.Client.Core;

namespace Federation.Nats.Transport;

/// <summary>Opens an official client connection within a deadline that covers TCP, TLS, INFO and the CONNECT handshake.</summary>
internal static class NatsConnect
{
    /// <summary>
    /// Connects <paramref name="client"/>, or throws <see cref="TimeoutException"/> once <paramref name="deadline"/> has passed:
    /// a peer that accepts TCP and never speaks must not hold the caller.
    /// </summary>
    public static async Task OpenAsync(NatsConnection client, TimeSpan deadline, CancellationToken cancellationToken)
    {
        try
        {
            await client.ConnectAsync().AsTask().WaitAsync(deadline, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException || IsClientTimeout(ex))
        {
            // The client's own ConnectTimeout is the same deadline and usually fires first, as a NatsException around
            // "The operation has timed out": either way the reason names the setting and its value.
            throw new TimeoutException($"Timed out: no NATS handshake within {deadline.TotalMilliseconds:0} ms (connect-timeout-ms)", ex);
        }
    }

    private static bool IsClientTimeout(Exception error)
    {
        for (var cause = error; cause is not null; cause = cause.InnerException)
        {
            if (cause is TimeoutException)
            {
                return true;
            }
        }

        return false;
    }
}
