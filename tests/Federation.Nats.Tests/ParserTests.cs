using System.Buffers;
using System.Text;
using Federation.Nats.Client;
using Federation.Nats.Protocol;

namespace Federation.Nats.Tests;

public class ParserTests
{
    private static ServerOp Single(string wire)
    {
        var parser = new NatsParser();
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire));
        Assert.True(parser.TryParse(ref buffer, out var op));
        Assert.Equal(0, buffer.Length);
        return op;
    }

    private static void Rejects(string wire, NatsParser? parser = null)
    {
        parser ??= new NatsParser();
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire));
        Assert.Throws<NatsProtocolException>(() => parser.TryParse(ref buffer, out _));
    }

    [Fact]
    public void Parses_info_with_its_json()
    {
        var op = Single("INFO {\"server_id\":\"x\",\"max_payload\":1024}\r\n");
        Assert.Equal(ServerOpKind.Info, op.Kind);
        Assert.Equal("{\"server_id\":\"x\",\"max_payload\":1024}", op.Text);
    }

    [Theory]
    [InlineData("PING\r\n", "Ping")]
    [InlineData("ping\r\n", "Ping")]
    [InlineData("PONG\r\n", "Pong")]
    [InlineData("+OK\r\n", "Ok")]
    [InlineData("+ok  \r\n", "Ok")]
    public void Parses_argumentless_ops_case_insensitively(string wire, string kind) => Assert.Equal(kind, Single(wire).Kind.ToString());

    [Fact]
    public void Parses_err_and_strips_quotes()
    {
        var op = Single("-ERR 'Authorization Violation'\r\n");
        Assert.Equal(ServerOpKind.Err, op.Kind);
        Assert.Equal("Authorization Violation", op.Text);
    }

    [Fact]
    public void Parses_msg_with_and_without_reply_to()
    {
        var plain = Single("MSG foo.bar 9 5\r\nhello\r\n");
        Assert.Equal(("foo.bar", 9L, (string?)null, "hello"), (plain.Subject, plain.Sid, plain.ReplyTo, Encoding.UTF8.GetString(plain.Payload)));

        var withReply = Single("MSG foo 1 _INBOX.x.1 2\r\nhi\r\n");
        Assert.Equal("_INBOX.x.1", withReply.ReplyTo);
        Assert.Equal("hi"u8.ToArray(), withReply.Payload);
    }

    [Fact]
    public void Parses_msg_whose_payload_contains_crlf_and_control_words()
    {
        var op = Single("MSG a 1 13\r\nPING\r\nMSG x\r\n\r\n");
        Assert.Equal("PING\r\nMSG x\r\n"u8.ToArray(), op.Payload);
    }

    [Fact]
    public void Parses_empty_msg_payload()
    {
        var op = Single("MSG a 1 0\r\n\r\n");
        Assert.Empty(op.Payload);
    }

    [Fact]
    public void Parses_the_documented_hmsg_example()
    {
        var op = Single("HMSG foo 2 22 24\r\nNATS/1.0\r\nBar: Baz\r\n\r\nhi\r\n");
        Assert.Equal(ServerOpKind.HMsg, op.Kind);
        Assert.Equal("Baz", op.Headers!["bar"]);
        Assert.Equal("hi"u8.ToArray(), op.Payload);
        Assert.Equal(0, op.Headers.StatusCode);
    }

    [Fact]
    public void Parses_the_no_responders_status_frame()
    {
        var op = Single("HMSG _INBOX.a.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
        Assert.Equal(503, op.Headers!.StatusCode);
        Assert.Null(op.Headers.StatusDescription);
        Assert.Equal(0, op.Headers.Count);
        Assert.Empty(op.Payload);
    }

    [Fact]
    public void Header_status_with_description_multiple_values_and_first_spelling()
    {
        var block = "NATS/1.0 408 Request Timeout\r\nX-Key: one\r\nx-key: two\r\nOther:  spaced value \r\nEmpty:\r\n\r\n"u8;
        var headers = HeaderCodec.Parse(block);
        Assert.Equal(408, headers.StatusCode);
        Assert.Equal("Request Timeout", headers.StatusDescription);
        Assert.True(headers.TryGetValues("X-KEY", out var values));
        Assert.Equal(["one", "two"], values);
        Assert.Equal(["X-Key", "Other", "Empty"], headers.Keys);
        Assert.Equal("spaced value", headers["other"]);
        Assert.Equal(string.Empty, headers["Empty"]);
    }

    [Fact]
    public void Header_writer_writes_status_and_repeated_keys_with_exact_length()
    {
        var headers = new NatsHeaders { StatusCode = 503 }.Add("A", "1").Add("a", "2").Add("B", "ü");
        var writer = new ArrayBufferWriter<byte>();
        var written = HeaderCodec.Write(writer, headers);
        Assert.Equal("NATS/1.0 503\r\nA: 1\r\nA: 2\r\nB: ü\r\n\r\n", Encoding.UTF8.GetString(writer.WrittenSpan));
        Assert.Equal(written, HeaderCodec.GetLength(headers));
        Assert.Equal(writer.WrittenCount, written);
    }

    [Theory]
    [InlineData("NATS/1.1\r\n\r\n")]
    [InlineData("NATS/1.0\r\nNoColon\r\n\r\n")]
    [InlineData("NATS/1.0 5x3\r\n\r\n")]
    [InlineData("NATS/1.0\r\nKey: v\r\n")]
    [InlineData("NATS/1.0\r\n: novalue\r\n\r\n")]
    public void Malformed_header_blocks_are_protocol_errors(string block) =>
        Assert.Throws<NatsProtocolException>(() => HeaderCodec.Parse(Encoding.UTF8.GetBytes(block)));

    [Theory]
    [InlineData("Bad Key", "v")]
    [InlineData("Bad:Key", "v")]
    [InlineData("", "v")]
    [InlineData("Key", "line\r\nbreak")]
    public void Header_writer_validation_rejects_what_cannot_go_on_the_wire(string key, string value) =>
        Assert.Throws<ArgumentException>(() => HeaderCodec.Validate(new NatsHeaders().Add(key, value)));

    [Theory]
    [InlineData("MSG foo 1\r\n")]
    [InlineData("MSG foo x 1\r\na\r\n")]
    [InlineData("MSG foo 1 -1\r\n")]
    [InlineData("MSG foo 1 2\r\nabXY")]
    [InlineData("HMSG foo 1 30 20\r\n")]
    [InlineData("HMSG foo 1 4 4\r\nabcd\r\n")]
    [InlineData("HMSG foo 1 16 16\r\nXXXX/1.0 503\r\n\r\n\r\n")]
    [InlineData("BOGUS\r\n")]
    [InlineData("PING now\r\n")]
    [InlineData("INFO\r\n")]
    [InlineData("PING\n")]
    [InlineData("MSG a 1 2 3 4 5\r\n")]
    public void Malformed_frames_are_protocol_errors(string wire) => Rejects(wire);

    [Fact]
    public void Partial_frames_need_more_data_and_leave_the_buffer_untouched()
    {
        var wire = Encoding.UTF8.GetBytes("HMSG foo 2 22 24\r\nNATS/1.0\r\nBar: Baz\r\n\r\nhi\r\n");
        var parser = new NatsParser();
        for (var length = 0; length < wire.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(wire, 0, length);
            Assert.False(parser.TryParse(ref buffer, out _));
            Assert.Equal(length, buffer.Length);
        }

        // every split point of the frame, fed as two segments, parses to the same op
        for (var cut = 0; cut <= wire.Length; cut++)
        {
            var ops = Frames.ParseChunks(parser, [wire[..cut], wire[cut..]]);
            Assert.Single(ops);
            Assert.Equal("Baz", ops[0].Headers!["Bar"]);
        }
    }

    [Fact]
    public void Control_line_limit_is_enforced_with_and_without_the_newline()
    {
        var parser = new NatsParser(maxControlLine: 64);
        Rejects("-ERR '" + new string('x', 80) + "'\r\n", parser);
        var noNewline = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(new string('x', 70)));
        Assert.Throws<NatsProtocolException>(() => parser.TryParse(ref noNewline, out _));
        var justUnder = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(new string('x', 60)));
        Assert.False(parser.TryParse(ref justUnder, out _));
    }

    [Fact]
    public void Payload_above_max_payload_plus_slack_is_rejected_before_it_arrives()
    {
        var parser = new NatsParser();
        parser.ApplyServerMaxPayload(1024);
        var size = 1024 + NatsProtocol.PayloadSlack + 1;
        Rejects($"MSG foo 1 {size}\r\n", parser);
        var ok = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("MSG foo 1 1024\r\n"));
        Assert.False(parser.TryParse(ref ok, out _)); // accepted, waiting for the payload
    }
}
