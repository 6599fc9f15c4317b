using System.Net.Sockets;
using RabbitMQ.Client.Exceptions;

namespace Federation.Amqp;

/// <summary>
/// The stream RabbitMQ.Client reads a connection from: the socket, or the TLS session over it, with every byte received
/// shown to an <see cref="InboundFrameGuard"/> before the client gets it.
/// </summary>
/// <remarks>
/// <para>A <see cref="NetworkStream"/> because that is what the client's <see cref="RabbitMQ.Client.ITcpClient"/> must
/// return. With TLS the client is told to use none, and this stream reads and writes through the
/// <see cref="System.Net.Security.SslStream"/> that <see cref="GuardedTcpClient"/> authenticated: only there are the
/// received bytes plain AMQP.</para>
/// <para>A content header the client could not read fails the read with the client's own
/// <see cref="SyntaxErrorException"/>: the client then closes the connection with 502 as it does when its parser throws,
/// and the consumer treats it the same way (<see cref="UnreadableMessageRemoval.IsClientReadFailure"/>). Every read
/// after that fails alike.</para>
/// </remarks>
internal sealed class GuardedNetworkStream : NetworkStream
{
    private readonly Stream? tls;
    private readonly InboundFrameGuard guard = new();
    private string? refused;

    /// <summary>A stream over <paramref name="socket"/>, which it owns, reading and writing through <paramref name="tls"/> when given.</summary>
    public GuardedNetworkStream(Socket socket, Stream? tls)
        : base(socket, ownsSocket: true) => this.tls = tls;

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        ThrowIfRefused();
        return Inspected(buffer, tls is null ? base.Read(buffer) : tls.Read(buffer));
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 0 ? -1 : one[0];
    }

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfRefused();
        var read = tls is null
            ? await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)
            : await tls.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Inspected(buffer.Span, read);
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override IAsyncResult BeginRead(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state) =>
        TaskToAsyncResult.Begin(ReadAsync(buffer, offset, count, CancellationToken.None), callback, state);

    /// <inheritdoc/>
    public override int EndRead(IAsyncResult asyncResult) => TaskToAsyncResult.End<int>(asyncResult);

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (tls is null)
        {
            base.Write(buffer);
        }
        else
        {
            tls.Write(buffer);
        }
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override void WriteByte(byte value) => Write([value]);

    /// <inheritdoc/>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        tls is null ? base.WriteAsync(buffer, cancellationToken) : tls.WriteAsync(buffer, cancellationToken);

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override IAsyncResult BeginWrite(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state) =>
        TaskToAsyncResult.Begin(WriteAsync(buffer, offset, count, CancellationToken.None), callback, state);

    /// <inheritdoc/>
    public override void EndWrite(IAsyncResult asyncResult) => TaskToAsyncResult.End(asyncResult);

    /// <inheritdoc/>
    public override void Flush() => tls?.Flush();

    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        tls is null ? Task.CompletedTask : tls.FlushAsync(cancellationToken);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            tls?.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Inspected(Span<byte> buffer, int read)
    {
        if (read > 0 && guard.Inspect(buffer[..read]) is { } problem)
        {
            refused = problem;
            ThrowIfRefused();
        }

        return read;
    }

    private void ThrowIfRefused()
    {
        if (refused is not null)
        {
            throw new SyntaxErrorException($"Federation.Amqp refused a content header before RabbitMQ.Client read it: {refused}");
        }
    }
}
