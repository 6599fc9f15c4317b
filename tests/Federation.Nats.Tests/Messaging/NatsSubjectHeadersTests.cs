using System.Buffers;
using System.Text;
using Federation.Nats.Messaging;

namespace Federation.Nats.Tests.Messaging;

/// <summary>The raw header block parser that subscriptions use on the client's read loop instead of a NatsHeaders per message.</summary>
public sealed class NatsSubjectHeadersTests
{
    [Fact]
    public void Fields_ComeInWireOrder_WithValuesTrimmedAsTheClientTrimsThem()
    {
        var fields = Parse("NATS/1.0\r\nSeen-By: hop-1\r\nSeen-By:hop-2\r\nx-empty:\r\nx-text: \t a value: with = inside \t\r\n\r\n");

        Assert.Equal([new("Seen-By", "hop-1"), new("Seen-By", "hop-2"), new("x-empty", ""), new("x-text", "a value: with = inside")], fields);
    }

    [Fact]
    public void AStatusOnlyBlock_HasNoFields()
    {
        Assert.Null(Parse("NATS/1.0 503\r\n\r\n"));
        Assert.Null(Parse("NATS/1.0 100 Idle Heartbeat\r\n\r\n"));
    }

    [Fact]
    public void ARepeatedName_GroupsCaseInsensitively_UnderItsFirstSpelling_AsNatsHeadersDoes()
    {
        var fields = Parse("NATS/1.0\r\na: 1\r\nb: 2\r\nA: 3\r\n\r\n");

        Assert.Equal([new("a", "1"), new("a", "3"), new("b", "2")], fields);
    }

    [Fact]
    public void ABlockSplitAcrossSegments_ParsesTheSame()
    {
        var bytes = Encoding.ASCII.GetBytes("NATS/1.0\r\nX-Federation-Req: 0123\r\nSeen-By: a\r\n\r\n");
        var first = new Segment(bytes.AsMemory(0, 15));
        var last = first.Append(bytes.AsMemory(15));

        var fields = NatsSubjectHeaders.Parse(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length), Encoding.UTF8);

        Assert.Equal([new("X-Federation-Req", "0123"), new("Seen-By", "a")], fields);
    }

    [Theory]
    [InlineData("HTTP/1.0\r\na: 1\r\n\r\n")]
    [InlineData("NATS/1.0\r\nno colon here\r\n\r\n")]
    [InlineData("NATS/1.0\r\nname with space: 1\r\n\r\n")]
    [InlineData("NATS/1.0\r\na: 1")]
    public void AMalformedBlock_IsAFormatException(string block) =>
        Assert.Throws<FormatException>(() => Parse(block));

    private static IReadOnlyList<KeyValuePair<string, string>>? Parse(string block) =>
        NatsSubjectHeaders.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(block)), Encoding.UTF8);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
