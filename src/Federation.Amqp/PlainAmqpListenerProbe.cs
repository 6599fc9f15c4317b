using System.Net.Sockets;

namespace Federation.Amqp;

/// <summary>
/// Tells whether a port answers plain AMQP 0-9-1. It is asked after a TLS handshake with that port failed: a plain
/// listener answers a TLS hello with its protocol header and closes, which the TLS layer reports as a corrupted frame,
/// and the operator then needs "use amqp:// or the TLS port" rather than a hint about client certificates.
/// </summary>
internal static class PlainAmqpListenerProbe
{
    /// <summary>How long the probe may take at most; it runs only on a failed connect, to word the error.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// True when <paramref name="host"/>:<paramref name="port"/> answers the AMQP 0-9-1 protocol header in plain text
    /// with connection.start (a method frame) or with its own protocol header; false for anything else, including a TLS
    /// alert, silence within <see cref="Timeout"/>, or a refused connect.
    /// </summary>
    public static async Task<bool> AnswersPlainAmqpAsync(string host, int port, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
            await socket.SendAsync(AmqpWireConnection.ProtocolHeader.ToArray(), SocketFlags.None, deadline.Token).ConfigureAwait(false);
            var first = new byte[1];
            var read = await socket.ReceiveAsync(first, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            return read == 1 && first[0] is AmqpWireConnection.MethodFrame or (byte)'A';
        }
        catch (Exception error) when (error is SocketException or IOException or OperationCanceledException)
        {
            // No answer that proves plain AMQP: the caller keeps its usual wording.
            return false;
        }
    }
}
