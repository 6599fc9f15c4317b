using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Collectives.Choria;

namespace Federation.Core.Tests.Collectives.Choria;

/// <summary>Choria's transport JSON: the go-choria fixtures parse to the right fields and are written back byte for byte; hostile input is refused with the field named.</summary>
public sealed class ChoriaTransportCodecTests
{
    private static ChoriaTransport Read(string json, ChoriaProtocolVersion? accepted = null)
    {
        var error = ChoriaTransportReader.TryRead(Encoding.UTF8.GetBytes(json), accepted, out var transport);
        Assert.Null(error);
        return transport!;
    }

    private static string Write(ChoriaTransport transport) => Encoding.UTF8.GetString(ChoriaTransportWriter.Write(transport).Span);

    [Fact]
    public void A_v1_federated_request_reads_as_go_choria_writes_it()
    {
        var transport = Read(ChoriaFixtures.V1Request);

        Assert.Equal(ChoriaProtocolVersion.V1, transport.Version);
        Assert.Equal(ChoriaFixtures.V1SecureRequest, Encoding.UTF8.GetString(transport.Data.Span));
        Assert.Equal(ChoriaFixtures.V1ClientReplyTo, transport.ReplyTo);
        Assert.Equal("rip.mcollective", transport.Sender);
        Assert.Equal([new SeenByHop("nats://fed1.example.net:4222", "rip.mcollective", "nats://fed1.example.net:4222")], transport.SeenBy);
        Assert.Equal(ChoriaFixtures.V1RequestId, transport.Federation!.RequestId);
        Assert.Null(transport.Federation.ReplyTo);
        Assert.Equal(["mcollective.broadcast.agent.test"], transport.Federation.Targets);
    }

    [Fact]
    public void A_v2_federated_request_reads_with_the_v2_names()
    {
        var transport = Read(ChoriaFixtures.V2Request);

        Assert.Equal(ChoriaProtocolVersion.V2, transport.Version);
        Assert.Equal(ChoriaFixtures.V2ClientReplyTo, transport.ReplyTo);
        Assert.Equal("rip.mcollective", transport.Sender);
        Assert.Single(transport.SeenBy);
        Assert.Equal(ChoriaFixtures.V2RequestId, transport.Federation!.RequestId);
        Assert.Equal(["choria.node.web1.example.net", "choria.node.web2.example.net"], transport.Federation.Targets);
    }

    [Fact]
    public void A_v2_reply_carries_the_stashed_client_reply_subject()
    {
        var transport = Read(ChoriaFixtures.V2Reply);

        Assert.Null(transport.ReplyTo);
        Assert.Equal("web1.example.net", transport.Sender);
        Assert.Equal(ChoriaFixtures.V2ClientReplyTo, transport.Federation!.ReplyTo);
        Assert.Empty(transport.Federation.Targets);
        Assert.Equal(ChoriaFixtures.V2SecureReply, Encoding.UTF8.GetString(transport.Data.Span));
    }

    [Theory]
    [MemberData(nameof(ChoriaFixtures.All), MemberType = typeof(ChoriaFixtures))]
    public void Every_fixture_is_written_back_byte_for_byte(string fixture)
    {
        Assert.Equal(fixture, Write(Read(fixture)));
    }

    [Fact]
    public void The_v2_schema_name_seen_by_is_read_and_trace_is_written()
    {
        var schemaSpelling = ChoriaFixtures.V2ReplyToClient.Replace("\"trace\":", "\"seen-by\":", StringComparison.Ordinal);

        var transport = Read(schemaSpelling);

        Assert.Equal(3, transport.SeenBy.Count);
        Assert.Equal(ChoriaFixtures.V2ReplyToClient, Write(transport));
    }

    [Fact]
    public void Empty_optional_fields_are_omitted_as_go_omits_them()
    {
        var transport = new ChoriaTransport { Version = ChoriaProtocolVersion.V1, Data = "{}"u8.ToArray(), ReplyTo = "", Federation = new ChoriaFederationHeader("", null, []) };

        Assert.Equal("""{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{}}}""", Write(transport));
    }

    [Fact]
    public void Unknown_fields_are_ignored_as_go_ignores_them()
    {
        var extended = ChoriaFixtures.V1Reply.Replace("\"headers\":{", "\"x-extra\":[1,2],\"headers\":{\"x-other\":{\"a\":1},", StringComparison.Ordinal);

        Assert.Equal(ChoriaFixtures.V1Reply, Write(Read(extended)));
    }

    [Fact]
    public void Field_order_does_not_matter()
    {
        const string reordered = """{"headers":{"federation":{"target":["a.node.b"],"req":"r1"},"reply-to":"x.reply.y"},"data":"e30=","protocol":"choria:transport:1"}""";

        Assert.Equal("""{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":"x.reply.y","federation":{"req":"r1","target":["a.node.b"]}}}""", Write(Read(reordered)));
    }

    [Fact]
    public void Data_escaped_by_another_encoder_still_decodes()
    {
        // System.Text.Json's default encoder writes '+' as \u002B; a JSON reader must unescape before decoding base64.
        var transport = Read("""{"protocol":"choria:transport:1","data":"\u002B/8=","headers":{}}""");

        Assert.Equal(new byte[] { 0xfb, 0xff }, transport.Data.ToArray());
        Assert.Contains("\"data\":\"+/8=\"", Write(transport), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Hostile => new()
    {
        { "", "the message is empty" },
        { "not json", "the message is not valid JSON" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{}""", "the message is not valid JSON" },
        { "[1,2,3]", "the message is a JSON array, not a Choria transport object" },
        { """{"data":"e30=","headers":{}}""", "protocol: missing" },
        { """{"protocol":1,"data":"e30=","headers":{}}""", "protocol: expected a string, got number" },
        { """{"protocol":"choria:transport:2","data":"e30=","headers":{}}""", "protocol: 'choria:transport:2' is not accepted (expected 'choria:transport:1' or 'io.choria.protocol.v2.transport')" },
        { """{"protocol":"choria:request:1","data":"e30=","headers":{}}""", "protocol: 'choria:request:1' is not accepted" },
        { """{"protocol":"choria:transport:1","headers":{}}""", "data: missing" },
        { """{"protocol":"choria:transport:1","data":null,"headers":{}}""", "data: expected a base64 string, got null" },
        { """{"protocol":"choria:transport:1","data":{"a":1},"headers":{}}""", "data: expected a base64 string, got object" },
        { """{"protocol":"choria:transport:1","data":"not base64!","headers":{}}""", "data: not valid base64" },
        { """{"protocol":"choria:transport:1","data":"e30","headers":{}}""", "data: not valid base64" },
        { """{"protocol":"choria:transport:1","data":"e30="}""", "headers: missing" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":null}""", "headers: missing" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":"x"}""", "headers: expected an object, got string" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":5}}""", "headers.reply-to: expected a string, got number" },
        { """{"protocol":"io.choria.protocol.v2.transport","data":"e30=","headers":{"sender":true}}""", "headers.sender: expected a string, got boolean" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"seen-by":"a"}}""", "headers.seen-by: expected an array of [in, processor, out] arrays, got string" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"seen-by":[["a","b","c"],["a","b"]]}}""", "headers.seen-by[1]: expected an array of 3 strings, got an array of 2 element(s)" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"seen-by":[["a","b",3]]}}""", "headers.seen-by[0]: expected an array of 3 strings" },
        { """{"protocol":"io.choria.protocol.v2.transport","data":"e30=","headers":{"trace":[],"seen-by":[]}}""", "headers.trace and headers.seen-by: both present" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":[]}}""", "headers.federation: expected an object, got array" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"req":7}}}""", "headers.federation.req: expected a string, got number" },
        { """{"protocol":"io.choria.protocol.v2.transport","data":"e30=","headers":{"federation":{"reply":[]}}}""", "headers.federation.reply: expected a string, got array" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"target":"a.node.b"}}}""", "headers.federation.target: expected an array of strings, got string" },
        { """{"protocol":"io.choria.protocol.v2.transport","data":"e30=","headers":{"federation":{"targets":["a.node.b",null]}}}""", "headers.federation.targets[1]: expected a string, got null" },
        { """{"protocol":"choria:transport:1","protocol":"choria:transport:1","data":"e30=","headers":{}}""", "protocol: appears more than once" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":"a.reply.b","reply-to":"c.reply.d"}}""", "headers.reply-to: appears more than once" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"target":["a.node.b"],"target":["c.node.d"]}}}""", "headers.federation.target: appears more than once" },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"x":[[[[[[[[[[1]]]]]]]]]]}}""", "the message is not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_input_is_refused_naming_the_field(string json, string expected)
    {
        var error = ChoriaTransportReader.TryRead(Encoding.UTF8.GetBytes(json), accepted: null, out var transport);

        Assert.Null(transport);
        Assert.NotNull(error);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    // '#' marks where the bad text goes: raw bytes that are not UTF-8, or an escaped lone surrogate.
    public static TheoryData<string, string, bool> NotText => new()
    {
        { """{"protocol":"#","data":"e30=","headers":{}}""", "protocol: not valid UTF-8 text", true },
        { """{"protocol":"#","data":"e30=","headers":{}}""", "protocol: not valid UTF-8 text", false },
        { """{"protocol":"choria:transport:1","data":"#","headers":{}}""", "data: not valid base64", true },
        { """{"protocol":"choria:transport:1","data":"#","headers":{}}""", "data: not valid base64", false },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"reply-to":"a.#"}}""", "headers.reply-to: not valid UTF-8 text", true },
        { """{"protocol":"io.choria.protocol.v2.transport","data":"e30=","headers":{"sender":"#"}}""", "headers.sender: not valid UTF-8 text", false },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"seen-by":[["a","#","c"]]}}""", "headers.seen-by[0]: not valid UTF-8 text", true },
        { """{"protocol":"io.choria.protocol.v2.transport","data":"e30=","headers":{"trace":[["a","b","#"]]}}""", "headers.trace[0]: not valid UTF-8 text", false },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"req":"#"}}}""", "headers.federation.req: not valid UTF-8 text", true },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"req":"#"}}}""", "headers.federation.req: not valid UTF-8 text", false },
        { """{"protocol":"io.choria.protocol.v2.transport","data":"e30=","headers":{"federation":{"reply":"#"}}}""", "headers.federation.reply: not valid UTF-8 text", true },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"target":["a.node.b","#"]}}}""", "headers.federation.target[1]: not valid UTF-8 text", true },
        { """{"protocol":"io.choria.protocol.v2.transport","data":"e30=","headers":{"federation":{"targets":["#"]}}}""", "headers.federation.targets[0]: not valid UTF-8 text", false },
        { """{"#":1,"protocol":"choria:transport:1","data":"e30=","headers":{}}""", "the message: a field name is not valid UTF-8 text", true },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"#":1}}""", "headers: a field name is not valid UTF-8 text", false },
        { """{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"#":1}}}""", "headers.federation: a field name is not valid UTF-8 text", true },
    };

    [Theory]
    [MemberData(nameof(NotText))]
    public void Text_that_is_not_UTF8_is_refused_naming_the_field_and_never_thrown(string json, string expected, bool rawBytes)
    {
        var at = json.IndexOf('#', StringComparison.Ordinal);
        byte[] bad = rawBytes ? [0xff, 0xfe] : Encoding.ASCII.GetBytes("\\ud800");
        byte[] message = [.. Encoding.UTF8.GetBytes(json[..at]), .. bad, .. Encoding.UTF8.GetBytes(json[(at + 1)..])];

        var error = ChoriaTransportReader.TryRead(message, accepted: null, out var transport);

        Assert.Null(transport);
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData(ChoriaFixtures.V2Request, true, "protocol: 'io.choria.protocol.v2.transport' is not accepted (expected 'choria:transport:1')")]
    [InlineData(ChoriaFixtures.V1Request, false, "protocol: 'choria:transport:1' is not accepted (expected 'io.choria.protocol.v2.transport')")]
    public void A_version_other_than_the_accepted_one_is_refused(string json, bool acceptV1, string expected)
    {
        var accepted = acceptV1 ? ChoriaProtocolVersion.V1 : ChoriaProtocolVersion.V2;

        Assert.Equal(expected, ChoriaTransportReader.TryRead(Encoding.UTF8.GetBytes(json), accepted, out _));
    }

    [Fact]
    public void An_oversized_message_is_refused_before_it_is_parsed()
    {
        var oversized = new byte[ChoriaTransportReader.MaxMessageBytes + 1];

        var error = ChoriaTransportReader.TryRead(oversized, accepted: null, out _);

        Assert.Equal($"the message is {ChoriaTransportReader.MaxMessageBytes + 1} bytes, more than the {ChoriaTransportReader.MaxMessageBytes} a Choria transport may have", error);
    }

    [Fact]
    public void A_v1_message_with_the_schema_spelling_targets_has_no_targets_as_in_go()
    {
        // The v1 schema says "targets" but go-choria's struct tag is "target"; Go's decoder ignores "targets", so do we.
        var transport = Read("""{"protocol":"choria:transport:1","data":"e30=","headers":{"federation":{"req":"r","targets":["a.node.b"]}}}""");

        Assert.Empty(transport.Federation!.Targets);
    }
}
