using System.Globalization;
using System.Text;
using Federation.Core.Addressing;
using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// The native envelope under hostile headers: whatever a client or node publishes, the relay never throws, every message
/// ends in exactly one outcome (dropped and counted once, or forwarded), and what it forwards keeps the envelope's rules.
/// </summary>
public sealed class HostileEnvelopeProperties
{
    private const int Runs = 300;

    private static readonly string[] Names =
    [
        FederationHeaders.RequestId, FederationHeaders.Target, FederationHeaders.ReplyTo, FederationHeaders.SeenBy, FederationHeaders.Hops,
        "federation-target", "FEDERATION-HOPS", "federation-request-id", "X-Other", "a", "", "a b", "a:b", "zü", "x\u0001", "\u00e9t\u00e9",
    ];

    private static readonly string[] Values =
    [
        "", " ", "r1", "mcollective.node.web1", "mcollective.node.web2", "mcollective.broadcast.agent.ping", "client.reply.r1",
        "mcollective.node.*", "mcollective.broadcast.agent.>", "mcollective.node.web 1", "mcollective..node", ".a", "a.",
        "choria.federation.london.federation", "choria.federation.london.collective", "choria.federation.tokyo.federation",
        "CHORIA.FEDERATION.tokyo.collective", "_INBOX.abc", "other.reply.x", "a\u0000b", "a\r\nb", "a\rb", "\u0085", "\u2028",
        "\ud800", "a\udc00b", "z\u00fcrich.node.\ud83d\ude00", "0", "1", "7", "8", "-1", "+1", " 1", "1.0", "0x1", "\u0661",
        "2147483647", "2147483648", "99999999999999999999999", "[\"a\",\"b\",\"c\"]", "[\"a\",\"b\"]", "[1,2,3]", "[", "null",
        "[\"a\",\"b\",\"c\"]]", "[\"a\",\"b\",\"c\"] x", "[\"\\ud800\",\"b\",\"c\"]", "[\"a\u00e9\",\"\\n\",\"c\"]", "[\"" + new string('x', 300) + "\",\"b\",\"c\"]",
        new string('[', 10_000), new string('a', 5000), "mcollective.node." + new string('a', 1100), "x.reply." + new string('\u00e9', 600),
    ];

    private static readonly Gen<string> Value = Gen.OneOf(
        Gen.Elements(Values),
        ArbMap.Default.GeneratorFor<string>().Select(s => s ?? string.Empty),
        Gen.Choose(0, 40).Select(n => n.ToString(CultureInfo.InvariantCulture)));

    private static readonly Gen<KeyValuePair<string, string>> Field =
        from name in Gen.Elements(Names)
        from value in Value
        select new KeyValuePair<string, string>(name, value);

    /// <summary>A request-shaped envelope (usually valid) with hostile fields added, dropped or repeated.</summary>
    private static readonly Gen<List<KeyValuePair<string, string>>> Headers =
        from baseline in Gen.Elements(true, false)
        from extra in Field.ListOf()
        from targets in Gen.Elements("mcollective.node.web1", "mcollective.node.web2", "mcollective.broadcast.agent.ping").ListOf()
        from shuffle in Gen.Elements(true, false)
        select Build(baseline, extra, targets, shuffle);

    private static List<KeyValuePair<string, string>> Build(bool baseline, IList<KeyValuePair<string, string>> extra, IList<string> targets, bool shuffle)
    {
        var headers = new List<KeyValuePair<string, string>>();
        if (baseline)
        {
            headers.Add(new(FederationHeaders.RequestId, "r1"));
            headers.Add(new(FederationHeaders.ReplyTo, "client.reply.r1"));
        }

        headers.AddRange(targets.Select(t => new KeyValuePair<string, string>(FederationHeaders.Target, t)));
        headers.AddRange(extra);
        if (shuffle)
        {
            headers.Reverse();
        }

        return headers;
    }

    [Property(MaxTest = Runs)]
    public Property A_request_is_either_dropped_and_counted_once_or_forwarded_to_each_distinct_guarded_target()
    {
        return Prop.ForAll(Headers.ToArbitrary(), headers =>
        {
            using var harness = new RelayHarness();
            harness.RequestAsync(new SubjectMessage(harness.Subjects.Federation, "body"u8.ToArray(), headers)).AsTask().GetAwaiter().GetResult();
            var stats = harness.Statistics;
            var published = harness.Collective.Published.ToList();
            Assert.Empty(harness.Collective.Refused);
            Assert.Empty(harness.Federation.Published);
            if (stats.Errors != 0)
            {
                Assert.Equal(1, stats.Errors);
                Assert.Empty(published);
                return;
            }

            var targets = headers.Where(h => Is(h, FederationHeaders.Target)).Select(h => h.Value).ToList();
            Assert.Equal(targets.Distinct(StringComparer.Ordinal).Count(), published.Count);
            var hopsIn = headers.Where(h => Is(h, FederationHeaders.Hops)).Select(h => int.Parse(h.Value, CultureInfo.InvariantCulture)).SingleOrDefault();
            var seenByIn = headers.Count(h => Is(h, FederationHeaders.SeenBy));
            Assert.True(hopsIn < harness.Options.MaxHops);
            foreach (var message in published)
            {
                Assert.Contains(message.Subject, targets);
                AssertGuarded(harness, message.Subject, FederationBrokerOptions.DefaultTargetPattern);
                Assert.Equal(harness.Subjects.Collective, message.ReplyTo);
                Assert.DoesNotContain(message.Headers!, h => Is(h, FederationHeaders.Target));
                Assert.Equal((hopsIn + 1).ToString(CultureInfo.InvariantCulture), Assert.Single(message.Headers!, h => Is(h, FederationHeaders.Hops)).Value);
                Assert.Single(message.Headers!, h => Is(h, FederationHeaders.RequestId));
                AssertGuarded(harness, Assert.Single(message.Headers!, h => Is(h, FederationHeaders.ReplyTo)).Value, FederationBrokerOptions.DefaultReplyPattern);
                Assert.Equal(seenByIn + 1, message.Headers!.Count(h => Is(h, FederationHeaders.SeenBy)));
                Assert.Equal("body", Encoding.UTF8.GetString(message.Body.Span));
            }
        });
    }

    [Property(MaxTest = Runs)]
    public Property A_reply_is_either_dropped_and_counted_once_or_forwarded_once_to_a_guarded_reply_subject_without_the_envelope()
    {
        return Prop.ForAll(Headers.ToArbitrary(), headers =>
        {
            using var harness = new RelayHarness();
            harness.ReplyAsync(new SubjectMessage(harness.Subjects.Collective, "reply"u8.ToArray(), headers)).AsTask().GetAwaiter().GetResult();
            var stats = harness.Statistics;
            Assert.Empty(harness.Federation.Refused);
            Assert.Empty(harness.Collective.Published);
            if (stats.Errors != 0)
            {
                Assert.Equal(1, stats.Errors);
                Assert.Empty(harness.Federation.Published);
                return;
            }

            var message = Assert.Single(harness.Federation.Published);
            AssertGuarded(harness, message.Subject, FederationBrokerOptions.DefaultReplyPattern);
            Assert.Equal(message.Subject, Assert.Single(headers, h => Is(h, FederationHeaders.ReplyTo)).Value);
            Assert.DoesNotContain(message.Headers!, h => Is(h, FederationHeaders.RequestId) || Is(h, FederationHeaders.ReplyTo) || Is(h, FederationHeaders.Hops));
            Assert.Equal(headers.Count(h => Is(h, FederationHeaders.SeenBy)) + 1, message.Headers!.Count(h => Is(h, FederationHeaders.SeenBy)));
        });
    }

    [Property(MaxTest = Runs)]
    public Property Reading_a_seen_by_value_never_throws_and_yields_three_strings_or_nothing()
    {
        return Prop.ForAll(Value.ToArbitrary(), value =>
        {
            if (SeenByHop.TryParse(value, out var hop))
            {
                // What was read writes back as a value that reads the same.
                Assert.True(SeenByHop.TryParse(hop.Format(), out var again));
                Assert.Equal(hop, again);
            }

            _ = FederatedMessages.GetSeenBy(new SubjectMessage("a", ReadOnlyMemory<byte>.Empty, [new(FederationHeaders.SeenBy, value)]));

            // The relay's check accepts exactly what clients can read back.
            Assert.Equal(SeenByHop.TryParse(value, out _), SeenByHop.IsWellFormed(value));
        });
    }

    [Fact]
    public async Task A_broker_on_the_bus_takes_a_flood_of_hostile_messages_both_ways_and_goes_on_serving()
    {
        await using var testbed = new CollectivesTestbed();
        var broker = await testbed.StartBrokerAsync("flood", "fed", "london");
        await testbed.StartNodesAsync("london", "mcollective", "web1", "web2");
        var federation = await testbed.ConnectAsync("fed", "hostile-client");
        var collective = await testbed.ConnectAsync("london", "hostile-node");
        var sent = 0;
        foreach (var headers in Headers.Sample(50, 400))
        {
            // What the bus itself refuses never reaches the broker; everything else must be handled.
            if (SubjectHeaderRules.FindViolation(new SubjectMessage("x", ReadOnlyMemory<byte>.Empty, headers)) is not null)
            {
                continue;
            }

            await federation.PublishAsync(new SubjectMessage("choria.federation.flood.federation", "x"u8.ToArray(), headers), CancellationToken.None);
            await collective.PublishAsync(new SubjectMessage("choria.federation.flood.collective", "y"u8.ToArray(), headers), CancellationToken.None);
            sent++;
        }

        await CollectivesTestbed.WaitUntilAsync(() => broker.Statistics.RequestsReceived == sent && broker.Statistics.RepliesReceived >= sent, "every message was handled");
        Assert.Equal(0, testbed.Registry.GetOrAdd("fed").HandlerFailures);
        Assert.Equal(0, testbed.Registry.GetOrAdd("london").HandlerFailures);
        var client = await testbed.ClientAsync("fed");
        var replies = await client.RequestAsync(new FederatedRequest
        {
            Federations = ["flood"], Targets = ["mcollective.node.web1", "mcollective.node.web2"], ExpectedReplies = 2, Timeout = TimeSpan.FromSeconds(30),
        }, CancellationToken.None);
        Assert.True(replies.Completed);
    }

    private static bool Is(KeyValuePair<string, string> header, string name) => string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase);

    private static void AssertGuarded(RelayHarness harness, string subject, string pattern)
    {
        Assert.Null(SubjectGrammar.Explain(subject, SubjectUse.Publish, wildcardsMustBeWholeTokens: true));
        Assert.False(subject.StartsWith(harness.Options.SubjectPrefix + ".", StringComparison.OrdinalIgnoreCase));
        Assert.True(Encoding.UTF8.GetByteCount(subject) <= 1024);
        Assert.Matches(pattern, subject);
    }
}
