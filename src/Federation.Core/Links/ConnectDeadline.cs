using System.Globalization;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// Connect attempts with a deadline the engine enforces whatever the transport does. Transports apply their own, finer
/// timeouts from the URI (AMQP <c>connection_timeout</c>, default 30 s) and name the precise cause; this backstop only
/// catches a transport that never gives up, so that a link or the downstream always leaves "connecting" with an error,
/// and so that a cancelled attempt (restart, reconfiguration, stop) is abandoned at once even when the transport does
/// not honour its cancellation token.
/// </summary>
internal static class ConnectDeadline
{
    /// <summary>
    /// The longest a connect attempt may take. Well above the transports' defaults, so that a URI's own timeout normally
    /// decides; a longer timeout in a URI is cut to this.
    /// </summary>
    public static readonly TimeSpan Backstop = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Connects through <paramref name="transport"/> within <see cref="Backstop"/> (measured on <paramref name="time"/>).
    /// Throws <see cref="BrokerUnreachableException"/> naming the redacted URI when the deadline passes, and
    /// <see cref="OperationCanceledException"/> at once when <paramref name="cancellationToken"/> fires. An attempt given up
    /// on is closed should it still succeed later.
    /// </summary>
    public static async Task<IBrokerConnection> ConnectAsync(ITransport transport, ConnectionRequest request, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(Backstop, time);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        Task<IBrokerConnection> connecting;
        try
        {
            connecting = transport.ConnectAsync(request, attempt.Token).AsTask();
        }
        catch (Exception error) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(request, error);
        }

        try
        {
            // WaitAsync: a transport that ignores the token must not keep us waiting.
            return await connecting.WaitAsync(attempt.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (attempt.IsCancellationRequested)
        {
            CloseWhenDone(connecting);
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"Connecting to {UriRedaction.Redact(request.Uri)} was cancelled.", error, cancellationToken);
            }

            throw TimedOut(request, error);
        }
    }

    /// <summary>"2 s", "1.5 s", "120 s": durations as operators read them in errors and logs.</summary>
    public static string Describe(TimeSpan duration) => duration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    private static BrokerUnreachableException TimedOut(ConnectionRequest request, Exception error) =>
        new($"Connecting to {UriRedaction.Redact(request.Uri)} timed out after {Describe(Backstop)}: the transport did not finish the connect attempt.", error);

    private static void CloseWhenDone(Task<IBrokerConnection> connecting) =>
        _ = connecting.ContinueWith(
            static async attempt =>
            {
                if (!attempt.IsCompletedSuccessfully)
                {
                    _ = attempt.Exception; // Observed: why an abandoned attempt failed is of no interest.
                    return;
                }

                try
                {
                    await attempt.Result.DisposeAsync().ConfigureAwait(false);
                }
#pragma warning disable CA1031 // A connection nobody wants any more: whatever closing it throws is irrelevant.
                catch (Exception)
#pragma warning restore CA1031
                {
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
}
