using System.Text;
using Federation.Nats.Client;
using Federation.Nats.Protocol;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Federation.Nats.Tests;

public class ParserProperties
{
    // Each property runs this many generated cases.
    private const int Runs = 500;

    // Protocol-looking fragments mixed with arbitrary bytes, so that random input gets past the first token often.
    private static readonly Gen<byte[]> Fragment = Gen.OneOf(
        Gen.Elements("MSG ", "HMSG ", "PING", "PONG", "+OK", "-ERR ", "INFO ", "\r\n", "\r", "\n", " ", "\t", "NATS/1.0", "NATS/1.0 503", ": ", "0", "12", "16", "99999999999", "foo", "a.b", "'", "{}")
            .Select(Encoding.ASCII.GetBytes),
        Gen.Choose(0, 255).Select(b => (byte)b).ArrayOf());

    private static readonly Gen<byte[]> Noise = Fragment.ListOf().Select(parts => parts.SelectMany(p => p).ToArray());

    private static readonly Gen<int[]> Cuts = Gen.Choose(0, 4000).ArrayOf();

    private static readonly Gen<string> Token = Gen.Elements("a", "foo", "Bar", "_INBOX", "x1", "ü", "$JS", "-", "9").NonEmptyListOf().Select(string.Concat);

    private static readonly Gen<string> Subject = Token.NonEmptyListOf().Select(tokens => string.Join('.', tokens.Take(5)));

    private static readonly Gen<string> HeaderKey = Gen.Elements("A", "b", "X-Trace", "Nats-Msg-Id", "k1", "K1", "_").NonEmptyListOf().Select(string.Concat);

    private static readonly Gen<string> HeaderValue = Gen.OneOf(
        Gen.Constant(string.Empty),
        Gen.Elements("v", "a b", "😀", "x:y", "1", "é", "\t", " ").ListOf().Select(string.Concat).Select(v => v.Trim(' ', '\t')));

    private static readonly Gen<NatsHeaders> Headers =
        from status in Gen.OneOf(Gen.Constant(0), Gen.Choose(100, 599))
        from description in Gen.Elements<string?>(null, "No Responders", "Request Timeout", "x")
        from pairs in Gen.Zip(HeaderKey, HeaderValue).ListOf()
        select Build(status, status == 0 ? null : description, pairs);

    private static readonly Gen<byte[]> Payload = Gen.OneOf(
        Gen.Constant(Array.Empty<byte>()),
        Gen.Choose(0, 255).Select(b => (byte)b).ArrayOf(),
        Gen.Constant("\r\nPING\r\nMSG a 1 1\r\n"u8.ToArray()));

    private static readonly Gen<ServerOp> Op = Gen.OneOf(
        Gen.Constant(ServerOp.Ping),
        Gen.Constant(ServerOp.Pong),
        Gen.Constant(ServerOp.Ok),
        Gen.Elements("Authorization Violation", "Stale Connection", "Permissions Violation for Publish to a.b").Select(t => new ServerOp(ServerOpKind.Err) { Text = t }),
        Gen.Choose(1, 1_000_000).Select(n => new ServerOp(ServerOpKind.Info) { Text = $"{{\"server_id\":\"s\",\"max_payload\":{n}}}" }),
        from subject in Subject
        from sid in Gen.Choose(0, int.MaxValue)
        from reply in Gen.OneOf(Gen.Constant<string?>(null), Subject.Select(s => (string?)s))
        from payload in Payload
        select new ServerOp(ServerOpKind.Msg) { Subject = subject, Sid = sid, ReplyTo = reply, Payload = payload },
        from subject in Subject
        from sid in Gen.Choose(0, int.MaxValue)
        from reply in Gen.OneOf(Gen.Constant<string?>(null), Subject.Select(s => (string?)s))
        from headers in Headers
        from payload in Payload
        select new ServerOp(ServerOpKind.HMsg) { Subject = subject, Sid = sid, ReplyTo = reply, Headers = headers, Payload = payload });

    private static NatsHeaders Build(int status, string? description, IEnumerable<(string Key, string Value)> pairs)
    {
        var headers = new NatsHeaders { StatusCode = status, StatusDescription = description };
        foreach (var (key, value) in pairs)
        {
            headers.Add(key, value);
        }

        return headers;
    }

    [Property(MaxTest = Runs)]
    public Property Random_bytes_in_random_chunks_only_ever_raise_protocol_errors_and_always_terminate()
    {
        var cases = Gen.Zip(Noise, Cuts);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var (bytes, cuts) = c;
            try
            {
                // ParseChunks asserts that each success consumes bytes, so a finite input means a finite loop.
                Frames.ParseChunks(new NatsParser(), Frames.Split(bytes, cuts));
            }
            catch (NatsProtocolException)
            {
            }

            return true;
        });
    }

    [Property(MaxTest = Runs)]
    public Property Valid_ops_serialised_and_split_anywhere_parse_back_identically()
    {
        var cases = Gen.Zip(Op.NonEmptyListOf(), Cuts);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var (ops, cuts) = c;
            var wire = ops.SelectMany(Frames.Serialize).ToArray();
            var parsed = Frames.ParseChunks(new NatsParser(), Frames.Split(wire, cuts.Select(x => x % (wire.Length + 1))));
            return parsed.Count == ops.Count && ops.Zip(parsed).All(p => Frames.SameOp(p.First, p.Second));
        });
    }

    [Property(MaxTest = Runs)]
    public Property Header_blocks_round_trip_through_writer_and_parser()
    {
        return Prop.ForAll(Headers.ToArbitrary(), headers =>
        {
            var writer = new System.Buffers.ArrayBufferWriter<byte>();
            var length = HeaderCodec.Write(writer, headers);
            return length == HeaderCodec.GetLength(headers) && HeaderCodec.Parse(writer.WrittenSpan).ContentEquals(headers);
        });
    }

    [Property(MaxTest = Runs)]
    public Property Oversized_control_lines_are_rejected_whatever_the_chunking()
    {
        var cases =
            from limit in Gen.Choose(16, 512)
            from extra in Gen.Choose(1, 300)
            from verb in Gen.Elements("MSG ", "-ERR ", "INFO ", "")
            from cuts in Cuts
            select (Limit: limit, Line: verb + new string('x', limit + extra), Cuts: cuts);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var wire = Encoding.ASCII.GetBytes(c.Line + "\r\n");
            try
            {
                Frames.ParseChunks(new NatsParser(c.Limit), Frames.Split(wire, c.Cuts.Select(x => x % (wire.Length + 1))));
                return false;
            }
            catch (NatsProtocolException)
            {
                return true;
            }
        });
    }

    [Property(MaxTest = Runs)]
    public Property Oversized_payloads_are_rejected_and_payloads_at_the_limit_accepted()
    {
        var cases =
            from maxPayload in Gen.Choose(1, 100_000)
            from over in Gen.Choose(1, 1000)
            from headers in Gen.Elements(true, false)
            select (MaxPayload: maxPayload, Over: over, Headers: headers);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var parser = new NatsParser();
            parser.ApplyServerMaxPayload(c.MaxPayload);
            var limit = parser.MaxPayload;
            string Line(long size) => c.Headers ? $"HMSG s 1 12 {size}\r\n" : $"MSG s 1 {size}\r\n";
            var tooBig = new System.Buffers.ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(Line(limit + c.Over)));
            var atLimit = new System.Buffers.ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(Line(limit)));
            var rejected = false;
            try
            {
                _ = parser.TryParse(ref tooBig, out _);
            }
            catch (NatsProtocolException)
            {
                rejected = true;
            }

            return rejected && !parser.TryParse(ref atLimit, out _);
        });
    }
}
