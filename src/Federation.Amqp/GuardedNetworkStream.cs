using System.Buffers;
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

    // With a defuser (subject connections), what the broker sent passes through it, and the client reads from "passed".
    private readonly InboundFrameDefuser? defuser;
    private readonly ArrayBufferWriter<byte> passed = new();
    private int passedRead;
    private string? refused;

    /// <summary>
    /// A stream over <paramref name="socket"/>, which it owns, reading and writing through <paramref name="tls"/> when given.
    /// With <paramref name="unreadable"/>, an unreadable content header is defused and recorded there
    /// (<see cref="InboundFrameDefuser"/>) instead of failing the connection.
    /// </summary>
    public GuardedNetworkStream(Socket socket, Stream? tls, UnreadableDeliveries? unreadable = null)
        : base(socket, ownsSocket: true)
    {
        this.tls = tls;
        defuser = unreadable is null ? null : new InboundFrameDefuser(unreadable);
    }

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        ThrowIfRefused();
        if (defuser is null)
        {
            return Inspected(buffer, tls is null ? base.Read(buffer) : tls.Read(buffer));
        }

        // A content header being held back may leave nothing to pass yet: read on (0 would tell the client the socket closed).
        while (passedRead == passed.WrittenCount)
        {
            var read = tls is null ? base.Read(buffer) : tls.Read(buffer);
            if (read == 0)
            {
                return 0;
            }

            Defused(buffer[..read]);
        }

        return TakePassed(buffer);
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
        if (defuser is not null)
        {
            while (passedRead == passed.WrittenCount)
            {
                var received = tls is null
                    ? await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)
                    : await tls.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (received == 0)
                {
                    return 0;
                }

                Defused(buffer.Span[..received]);
            }

            return TakePassed(buffer.Span);
        }

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

    private void Defused(ReadOnlySpan<byte> received)
    {
        passed.ResetWrittenCount();
        passedRead = 0;
        if (defuser!.Take(received, passed) is { } problem)
        {
            refused = problem;
            ThrowIfRefused();
        }
    }

    private int TakePassed(Span<byte> buffer)
    {
        var ready = passed.WrittenSpan[passedRead..];
        var count = Math.Min(ready.Length, buffer.Length);
        ready[..count].CopyTo(buffer);
        passedRead += count;
        return count;
    }

    private void ThrowIfRefused()
    {
        if (refused is not null)
        {
            throw new SyntaxErrorException($"Federation.Amqp refused a content header before RabbitMQ.Client read it: {refused}");
        }
    }
}
