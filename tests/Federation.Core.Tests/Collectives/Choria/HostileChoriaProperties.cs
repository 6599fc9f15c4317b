using System.Globalization;
using System.Text;
using System.Text.Json;
using Federation.Core.Addressing;
using Federation.Core.Collectives;
using Federation.Core.Collectives.Choria;
using Federation.Core.Transport.Messaging;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Federation.Core.Tests.Collectives.Choria;

/// <summary>
/// Choria's transport JSON under hostile bytes: the reader never throws, and the relay drops and counts a message once or
/// forwards it as valid JSON to guarded subjects only.
/// </summary>
public sealed class HostileChoriaProperties
{
    private const int Runs = 300;

    private static readonly string[] Strings =
    [
        "", "r1", "2fStoRv4HVstNxy1hHonvl14VCE", "mcollective.node.web1", "mcollective.broadcast.agent.test", "choria.node.web2",
        "mcollective.reply.x.1", "mcollective.node.*", "mcollective.broadcast.agent.>", "mcollective.node.web 1",
        "choria.federation.london.federation", "choria.federation.tokyo.collective", "_INBOX.x", "a\u0000b", "a\r\nb", "\u0085",
        "\ud800", "z\u00fcrich.node.\ud83d\ude00", "choria:transport:1", "io.choria.protocol.v2.transport", "eyJhIjoxfQ==", "!!!",
        new string('a', 3000), "mcollective.node." + new string('a', 1100),
    ];

    /// <summary>A JSON value as text, of any shape; strings escaped as JSON may hold lone surrogates.</summary>
    private static Gen<string> JsonValue(int depth) => depth <= 0
        ? Scalar
        : Gen.OneOf(
            Scalar,
            Scalar,
            JsonValue(depth - 1).ListOf().Select(items => "[" + string.Join(",", items) + "]"),
            (from key in Gen.Elements("protocol", "data", "headers", "reply-to", "reply", "seen-by", "trace", "federation", "req", "request", "target", "targets", "x")
             from value in JsonValue(depth - 1)
             select $"{Quote(key)}:{value}").ListOf().Select(fields => "{" + string.Join(",", fields) + "}"));

    private static readonly Gen<string> Scalar = Gen.OneOf(
        Gen.Elements(Strings).Select(Quote),
        Gen.Elements("null", "true", "false", "0", "-0", "1e999", "-1", "123456789012345678901234567890", "1.5", "\"\\ud800\"", "\"\\udc00x\"", "\"\\u0000\""));

    private static readonly Gen<string> Target = Gen.OneOf(
        Gen.Elements("mcollective.node.web1", "mcollective.node.web2", "mcollective.broadcast.agent.test").Select(Quote),
        Scalar);

    /// <summary>A transport close to a real request or reply, with any field replaced, dropped or repeated.</summary>
    private static readonly Gen<string> Transport =
        from v2 in Gen.Elements(true, false)
        from protocol in Gen.Frequency((6, Gen.Constant(Quote(v2 ? "io.choria.protocol.v2.transport" : "choria:transport:1"))), (1, JsonValue(1)))
        from data in Gen.Frequency((6, Gen.Constant("\"eyJhIjoxfQ==\"")), (1, JsonValue(1)))
        from reply in Gen.Frequency((6, Gen.Constant(Quote("mcollective.reply.x.1"))), (1, JsonValue(1)))
        from trail in Gen.Frequency(
            (4, Gen.Elements("[]", "[[\"a\",\"b\",\"c\"]]", "[[\"a\",\"b\",\"c\"],[\"d\",\"e\",\"f\"]]")),
            (1, JsonValue(2)))
        from requestId in Gen.Frequency((6, Gen.Constant("\"r1\"")), (1, JsonValue(1)))
        from clientReply in Gen.Frequency((6, Gen.Constant(Quote("mcollective.reply.c.1"))), (1, JsonValue(1)))
        from targets in Gen.Frequency((6, Target.ListOf().Select(t => "[" + string.Join(",", t) + "]")), (1, JsonValue(2)))
        from extra in Gen.Elements(string.Empty, ",\"x\":1", ",\"data\":\"\"", ",\"headers\":{}")
        from dropped in Gen.Choose(0, 12)
        select Compose(v2, protocol, data, reply, trail, requestId, clientReply, targets, extra, dropped);

    private static string Compose(bool v2, string protocol, string data, string reply, string trail, string requestId, string clientReply, string targets, string extra, int dropped)
    {
        string Field(int index, string name, string value) => index == dropped ? string.Empty : $"{Quote(name)}:{value},";
        var federation = "{" + (Field(1, v2 ? "request" : "req", requestId) + Field(2, v2 ? "reply" : "reply-to", clientReply) + Field(3, v2 ? "targets" : "target", targets)).TrimEnd(',') + "}";
        var headers = "{" + (Field(4, v2 ? "reply" : "reply-to", reply) + Field(5, v2 ? "trace" : "seen-by", trail) + Field(6, "federation", federation)).TrimEnd(',') + "}";
        return "{" + (Field(7, "protocol", protocol) + Field(8, "data", data) + Field(9, "headers", headers)).TrimEnd(',') + extra + "}";
    }

    private static string Quote(string text) => JsonSerializer.Serialize(text);

    [Property(MaxTest = Runs)]
    public Property Reading_any_bytes_never_throws()
    {
        var bytes = Gen.OneOf(
            ArbMap.Default.GeneratorFor<byte[]>(),
            Transport.Select(Encoding.UTF8.GetBytes),
            // A valid transport cut short, or with one byte changed.
            from json in Gen.Elements(ChoriaFixtures.V1Request, ChoriaFixtures.V2Request, ChoriaFixtures.V1Reply, ChoriaFixtures.V2Reply)
            from at in Gen.Choose(0, json.Length - 1)
            from b in ArbMap.Default.GeneratorFor<byte>()
            from cut in Gen.Elements(true, false)
            select cut ? Encoding.UTF8.GetBytes(json)[..at] : Mutate(Encoding.UTF8.GetBytes(json), at, b));

        return Prop.ForAll(bytes.ToArbitrary(), json =>
        {
            var error = ChoriaTransportReader.TryRead(json, accepted: null, out var transport);
            Assert.True(error is null == transport is not null);
            if (transport is not null)
            {
                // Whatever was read is written as JSON that reads back the same.
                Assert.Null(ChoriaTransportReader.TryRead(ChoriaTransportWriter.Write(transport), transport.Version, out var again));
                Assert.Equal(transport.SeenBy, again!.SeenBy);
                Assert.Equal(transport.Federation?.Targets ?? [], again.Federation?.Targets ?? []);
            }
        });
    }

    [Property(MaxTest = Runs)]
    public Property A_request_is_either_dropped_and_counted_once_or_forwarded_once_per_distinct_guarded_target()
    {
        return Prop.ForAll(Transport.ToArbitrary(), json =>
        {
            using var harness = new RelayHarness(o => o.Envelope = FederationEnvelopeFormat.Choria);
            harness.RequestAsync(new SubjectMessage(harness.Subjects.Federation, Encoding.UTF8.GetBytes(json))).AsTask().GetAwaiter().GetResult();
            Assert.Empty(harness.Collective.Refused);
            Assert.Empty(harness.Federation.Published);
            if (harness.Statistics.Errors != 0)
            {
                Assert.Equal(1, harness.Statistics.Errors);
                Assert.Empty(harness.Collective.Published);
                return;
            }

            Assert.Null(ChoriaTransportReader.TryRead(Encoding.UTF8.GetBytes(json), null, out var request));
            var targets = request!.Federation!.Targets;
            Assert.Equal(targets.Distinct(StringComparer.Ordinal).Count(), harness.Collective.Published.Count);
            foreach (var message in harness.Collective.Published)
            {
                AssertGuarded(harness, message.Subject, FederationBrokerOptions.DefaultTargetPattern);
                Assert.Null(ChoriaTransportReader.TryRead(message.Body, request.Version, out var forwarded));
                Assert.Equal(harness.Subjects.Collective, forwarded!.ReplyTo);
                Assert.Empty(forwarded.Federation!.Targets);
                Assert.Equal(request.SeenBy.Count + 1, forwarded.SeenBy.Count);
                AssertGuarded(harness, forwarded.Federation.ReplyTo!, FederationBrokerOptions.DefaultReplyPattern);
            }
        });
    }

    [Property(MaxTest = Runs)]
    public Property A_reply_is_either_dropped_and_counted_once_or_forwarded_once_to_a_guarded_reply_subject()
    {
        return Prop.ForAll(Transport.ToArbitrary(), json =>
        {
            using var harness = new RelayHarness(o => o.Envelope = FederationEnvelopeFormat.Choria);
            harness.ReplyAsync(new SubjectMessage(harness.Subjects.Collective, Encoding.UTF8.GetBytes(json))).AsTask().GetAwaiter().GetResult();
            Assert.Empty(harness.Federation.Refused);
            Assert.Empty(harness.Collective.Published);
            if (harness.Statistics.Errors != 0)
            {
                Assert.Equal(1, harness.Statistics.Errors);
                Assert.Empty(harness.Federation.Published);
                return;
            }

            var message = Assert.Single(harness.Federation.Published);
            AssertGuarded(harness, message.Subject, FederationBrokerOptions.DefaultReplyPattern);
            Assert.Null(ChoriaTransportReader.TryRead(message.Body, null, out var forwarded));
            Assert.Null(forwarded!.Federation);
        });
    }

    private static byte[] Mutate(byte[] bytes, int at, byte value)
    {
        bytes[at] = value;
        return bytes;
    }

    private static void AssertGuarded(RelayHarness harness, string subject, string pattern)
    {
        Assert.Null(SubjectGrammar.Explain(subject, SubjectUse.Publish, wildcardsMustBeWholeTokens: true));
        Assert.False(subject.StartsWith(harness.Options.SubjectPrefix + ".", StringComparison.OrdinalIgnoreCase));
        Assert.True(Encoding.UTF8.GetByteCount(subject) <= 1024, subject.Length.ToString(CultureInfo.InvariantCulture));
        Assert.Matches(pattern, subject);
    }
}
