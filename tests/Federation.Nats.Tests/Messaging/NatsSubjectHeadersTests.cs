using System.Buffers;
using System.Text;
using Federation.Nats.Messaging;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

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

    [Fact]
    public void ALongBlock_GroupsARepeatedName_AsAShortOneDoes()
    {
        // Over the scan limit the parser finds repeats with a set: the same grouping as the short path.
        var names = Enumerable.Range(0, 40).Select(i => $"n{i}").ToList();
        var block = "NATS/1.0\r\n" + string.Concat(names.Select(n => $"{n}: 1\r\n")) + "N3: 2\r\n\r\n";

        var fields = Parse(block);

        Assert.Equal(41, fields!.Count);
        Assert.Equal([new("n3", "1"), new("n3", "2")], fields.Skip(3).Take(2));
        Assert.Equal(new KeyValuePair<string, string>("n39", "1"), fields[^1]);
    }

    [Fact]
    public void AHostileBlock_OfManyNames_IsReadInLinearTime()
    {
        // A 1 MB header block holds over 100,000 names; a scan of the earlier names per field took seconds of CPU per message.
        const int count = 200_000;
        var distinct = "NATS/1.0\r\n" + string.Concat(Enumerable.Range(0, count).Select(i => $"x{i}:\r\n")) + "\r\n";
        var interleaved = "NATS/1.0\r\n" + string.Concat(Enumerable.Range(0, count).Select(i => $"x{i % 2}: {i}\r\n")) + "\r\n";
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var fields = Parse(distinct);
        var grouped = Parse(interleaved);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal(count, fields!.Count);
        Assert.Equal("x199999", fields[^1].Key);
        Assert.Equal(count, grouped!.Count);
        Assert.Equal(new KeyValuePair<string, string>("x0", "199998"), grouped[(count / 2) - 1]);
        Assert.Equal(new KeyValuePair<string, string>("x1", "1"), grouped[count / 2]);
    }

    [Fact]
    public void ManyValuesOfOneName_AreWrittenInOrder_InLinearTime()
    {
        // A hostile seen-by trail of 200,000 hops passes through the broker; appending one value at a time was quadratic.
        const int count = 200_000;
        var fields = new List<KeyValuePair<string, string>> { new("a", "first") };
        fields.AddRange(Enumerable.Range(0, count).Select(i => new KeyValuePair<string, string>("Seen-By", $"{i}")));
        fields.Add(new("A", "second"));
        var headers = new NATS.Client.Core.NatsHeaders();
        var clock = System.Diagnostics.Stopwatch.StartNew();

        NatsSubjectHeaders.Write(fields, headers);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal("first,second", headers["a"].ToString());
        Assert.Equal(count, headers["Seen-By"].Count);
        Assert.Equal("199999", headers["seen-by"][count - 1]);
    }

    [Theory]
    [InlineData("HTTP/1.0\r\na: 1\r\n\r\n")]
    [InlineData("NATS/1.0\r\nno colon here\r\n\r\n")]
    [InlineData("NATS/1.0\r\nname with space: 1\r\n\r\n")]
    [InlineData("NATS/1.0\r\na: 1")]
    public void AMalformedBlock_IsAFormatException(string block) =>
        Assert.Throws<FormatException>(() => Parse(block));

    [Fact]
    public void BytesTheConfiguredEncodingRefuses_AreAFormatException()
    {
        // NatsOpts.HeaderEncoding is the user's choice: a strict one throws DecoderFallbackException (an ArgumentException),
        // which the subscription would not treat as an unreadable block, and which would reach the client's read loop.
        var block = (byte[])[.. "NATS/1.0\r\nX-Name: "u8.ToArray(), 0xC3, 0x28, .. "\r\n\r\n"u8.ToArray()];
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        Assert.Throws<FormatException>(() => NatsSubjectHeaders.Parse(new ReadOnlySequence<byte>(block), strict));
        Assert.Equal([new("X-Name", "\uFFFD(")], NatsSubjectHeaders.Parse(new ReadOnlySequence<byte>(block), Encoding.UTF8));
    }

    [Property(MaxTest = 500)]
    public Property AnyBlock_GivesFieldsOrAFormatException_NeverAnotherException()
    {
        var blocks = Gen.OneOf(
            ArbMap.Default.GeneratorFor<byte[]>(),
            from lines in Gen.Elements("a: 1", "a:", ": 1", "a b: 1", "a:\r", "\u00ff: \u00fe", "x: \u0000", "", "NATS/1.0", "NATS/1.0 503", "a").ListOf()
            from end in Gen.Elements("\r\n\r\n", "\r\n", "", "\n")
            select Encoding.Latin1.GetBytes("NATS/1.0\r\n" + string.Join("\r\n", lines) + end));
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        return Prop.ForAll(blocks.ToArbitrary(), block =>
        {
            foreach (var encoding in new[] { Encoding.UTF8, Encoding.ASCII, strict })
            {
                try
                {
                    _ = NatsSubjectHeaders.Parse(new ReadOnlySequence<byte>(block), encoding);
                }
                catch (FormatException)
                {
                    // unreadable: the subscription drops and counts it
                }
            }
        });
    }

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
