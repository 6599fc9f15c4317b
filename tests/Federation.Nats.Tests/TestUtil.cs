using System.Buffers;
using System.Text;
using Federation.Nats.Client;
using Federation.Nats.Protocol;

namespace Federation.Nats.Tests;

internal static class Eventually
{
    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>Polls <paramref name="condition"/> until it holds or the deadline passes (then fails with <paramref name="what"/>).</summary>
    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for: {what}");
            }

            await Task.Delay(PollInterval);
        }
    }
}

/// <summary>Server-side frame serialisation (the client never writes MSG/HMSG, the tests need to).</summary>
internal static class Frames
{
    public static byte[] Serialize(ServerOp op)
    {
        var buffer = new ArrayBufferWriter<byte>();
        switch (op.Kind)
        {
            case ServerOpKind.Ping: buffer.Write("PING\r\n"u8); break;
            case ServerOpKind.Pong: buffer.Write("PONG\r\n"u8); break;
            case ServerOpKind.Ok: buffer.Write("+OK\r\n"u8); break;
            case ServerOpKind.Err: buffer.Write(Encoding.UTF8.GetBytes($"-ERR '{op.Text}'\r\n")); break;
            case ServerOpKind.Info: buffer.Write(Encoding.UTF8.GetBytes($"INFO {op.Text}\r\n")); break;
            case ServerOpKind.Msg:
                buffer.Write(Encoding.UTF8.GetBytes($"MSG {op.Subject} {op.Sid} {(op.ReplyTo is null ? string.Empty : op.ReplyTo + " ")}{op.Payload.Length}\r\n"));
                buffer.Write(op.Payload);
                buffer.Write("\r\n"u8);
                break;
            case ServerOpKind.HMsg:
                var headers = new ArrayBufferWriter<byte>();
                HeaderCodec.Write(headers, op.Headers!);
                buffer.Write(Encoding.UTF8.GetBytes($"HMSG {op.Subject} {op.Sid} {(op.ReplyTo is null ? string.Empty : op.ReplyTo + " ")}{headers.WrittenCount} {headers.WrittenCount + op.Payload.Length}\r\n"));
                buffer.Write(headers.WrittenSpan);
                buffer.Write(op.Payload);
                buffer.Write("\r\n"u8);
                break;
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static bool SameOp(ServerOp a, ServerOp b) =>
        a.Kind == b.Kind && a.Text == b.Text && a.Subject == b.Subject && a.Sid == b.Sid && a.ReplyTo == b.ReplyTo
        && a.Payload.AsSpan().SequenceEqual(b.Payload)
        && (a.Headers is null ? b.Headers is null : a.Headers.ContentEquals(b.Headers));

    /// <summary>
    /// Feeds <paramref name="chunks"/> to a parser the way the read loop does (unconsumed bytes stay in front of the
    /// next chunk, as a multi-segment sequence) and returns every parsed op. Asserts that each success consumes bytes.
    /// </summary>
    public static List<ServerOp> ParseChunks(NatsParser parser, IEnumerable<byte[]> chunks)
    {
        var ops = new List<ServerOp>();
        var rest = Array.Empty<byte>();
        foreach (var chunk in chunks)
        {
            var buffer = Segments.Of(rest, chunk);
            while (true)
            {
                var before = buffer.Length;
                if (!parser.TryParse(ref buffer, out var op))
                {
                    break;
                }

                if (buffer.Length >= before)
                {
                    throw new InvalidOperationException("The parser reported an op without consuming bytes.");
                }

                ops.Add(op);
            }

            rest = buffer.ToArray();
        }

        return ops;
    }

    public static IEnumerable<byte[]> Split(byte[] data, IEnumerable<int> cuts)
    {
        var points = cuts.Select(c => Math.Clamp(c, 0, data.Length)).Distinct().Order().ToList();
        var start = 0;
        foreach (var point in points)
        {
            yield return data[start..point];
            start = point;
        }

        yield return data[start..];
    }
}

internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        Segments? first = null, last = null;
        long index = 0;
        foreach (var part in parts)
        {
            var segment = new Segments(part, index);
            index += part.Length;
            if (first is null)
            {
                first = last = segment;
            }
            else
            {
                last!.Next = segment;
                last = segment;
            }
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }
}
