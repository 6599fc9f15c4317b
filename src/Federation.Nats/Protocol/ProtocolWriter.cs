using System.Buffers;
using System.Buffers.Text;
using System.Text;
using Federation.Nats.Client;

namespace Federation.Nats.Protocol;

/// <summary>Formats client commands straight into an <see cref="IBufferWriter{T}"/>; one method per wire command.</summary>
internal static class ProtocolWriter
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public static void WriteConnect(IBufferWriter<byte> writer, ReadOnlySpan<byte> json)
    {
        WriteAscii(writer, "CONNECT "u8);
        WriteAscii(writer, json);
        WriteAscii(writer, NatsProtocol.CrLf);
    }

    public static void WritePing(IBufferWriter<byte> writer) => WriteAscii(writer, NatsProtocol.PingLine);

    public static void WritePong(IBufferWriter<byte> writer) => WriteAscii(writer, NatsProtocol.PongLine);

    /// <summary>
    /// PUB, or HPUB when <paramref name="headers"/> is not null or <paramref name="headerBlock"/> (an already encoded,
    /// complete header block, used when <paramref name="headers"/> is null) is not empty. Returns the bytes written.
    /// </summary>
    public static int WritePublish(IBufferWriter<byte> writer, string subject, string? replyTo, NatsHeaders? headers, ReadOnlySequence<byte> payload, ReadOnlySpan<byte> headerBlock = default)
    {
        var hasHeaders = headers is not null || !headerBlock.IsEmpty;
        var headerLength = headers is null ? headerBlock.Length : HeaderCodec.GetLength(headers);
        var total = headerLength + payload.Length;
        var max = 5 + Utf8.GetMaxByteCount(subject.Length) + 1 + (replyTo is null ? 0 : Utf8.GetMaxByteCount(replyTo.Length) + 1) + 20 + 1 + 20 + 2;
        var span = writer.GetSpan(max);
        var pos = 0;
        if (!hasHeaders)
        {
            "PUB "u8.CopyTo(span);
            pos = 4;
        }
        else
        {
            "HPUB "u8.CopyTo(span);
            pos = 5;
        }

        pos += Utf8.GetBytes(subject, span[pos..]);
        span[pos++] = (byte)' ';
        if (replyTo is not null)
        {
            pos += Utf8.GetBytes(replyTo, span[pos..]);
            span[pos++] = (byte)' ';
        }

        if (hasHeaders)
        {
            Utf8Formatter.TryFormat(headerLength, span[pos..], out var written);
            pos += written;
            span[pos++] = (byte)' ';
        }

        Utf8Formatter.TryFormat(total, span[pos..], out var totalWritten);
        pos += totalWritten;
        span[pos++] = (byte)'\r';
        span[pos++] = (byte)'\n';
        writer.Advance(pos);
        var size = pos;
        if (headers is not null)
        {
            size += HeaderCodec.Write(writer, headers);
        }
        else if (hasHeaders)
        {
            writer.Write(headerBlock);
            size += headerBlock.Length;
        }

        foreach (var segment in payload)
        {
            writer.Write(segment.Span);
        }

        WriteAscii(writer, NatsProtocol.CrLf);
        return size + (int)payload.Length + 2;
    }

    public static void WriteSub(IBufferWriter<byte> writer, string subject, string? queueGroup, long sid)
    {
        var max = 4 + Utf8.GetMaxByteCount(subject.Length) + 1 + (queueGroup is null ? 0 : Utf8.GetMaxByteCount(queueGroup.Length) + 1) + 20 + 2;
        var span = writer.GetSpan(max);
        "SUB "u8.CopyTo(span);
        var pos = 4;
        pos += Utf8.GetBytes(subject, span[pos..]);
        span[pos++] = (byte)' ';
        if (queueGroup is not null)
        {
            pos += Utf8.GetBytes(queueGroup, span[pos..]);
            span[pos++] = (byte)' ';
        }

        Utf8Formatter.TryFormat(sid, span[pos..], out var written);
        pos += written;
        span[pos++] = (byte)'\r';
        span[pos++] = (byte)'\n';
        writer.Advance(pos);
    }

    public static void WriteUnsub(IBufferWriter<byte> writer, long sid, long? maxMsgs)
    {
        var span = writer.GetSpan(6 + 20 + 1 + 20 + 2);
        "UNSUB "u8.CopyTo(span);
        var pos = 6;
        Utf8Formatter.TryFormat(sid, span[pos..], out var written);
        pos += written;
        if (maxMsgs is { } max)
        {
            span[pos++] = (byte)' ';
            Utf8Formatter.TryFormat(max, span[pos..], out written);
            pos += written;
        }

        span[pos++] = (byte)'\r';
        span[pos++] = (byte)'\n';
        writer.Advance(pos);
    }

    private static void WriteAscii(IBufferWriter<byte> writer, ReadOnlySpan<byte> bytes) => writer.Write(bytes);
}
