using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// A seen-by entry anyone could have written: a client reading a trail skips one that is not three strings of text, never
/// throws; a broker relaying a native message with such an entry drops it as malformed, as the Choria envelope does.
/// </summary>
public sealed class SeenByTrailTests
{
    [Theory]
    [InlineData("nope")]
    [InlineData("[\"a\",\"b\"]")]
    [InlineData("[\"a\",\"b\",\"c\"] trailing")]
    [InlineData("[\"a\",\"b\",3]")]
    [InlineData("")]
    public async Task A_native_request_whose_trail_has_a_malformed_hop_is_dropped_and_counted(string entry)
    {
        using var metrics = new BrokerMetricsRecorder("seen-by-check");
        using var harness = new RelayHarness(configure: null, "seen-by-check");
        var good = new SeenByHop("nats://a:4222", "client", "nats://a:4222").Format();

        await harness.RequestAsync(new SubjectMessage(harness.Subjects.Federation, "x"u8.ToArray(),
            [new(FederationHeaders.RequestId, "r1"), new(FederationHeaders.ReplyTo, "client.reply.r1"), new(FederationHeaders.Target, "mcollective.node.web1"),
             new(FederationHeaders.SeenBy, good), new(FederationHeaders.SeenBy, entry)]));
        await harness.RequestAsync(new SubjectMessage(harness.Subjects.Federation, "x"u8.ToArray(),
            [new(FederationHeaders.RequestId, "r2"), new(FederationHeaders.ReplyTo, "client.reply.r2"), new(FederationHeaders.Target, "mcollective.node.web1"),
             new(FederationHeaders.SeenBy, good)]));

        // Only the well-formed one goes on, with its trail as it came and the broker's hop.
        var forwarded = Assert.Single(harness.Collective.Published);
        Assert.Equal("r2", FederationEnvelope.RequestIdOf(forwarded));
        Assert.Equal(2, FederatedMessages.GetSeenBy(forwarded).Count);
        Assert.Equal(1, metrics.Sum("federation.broker.errors", ("error.type", "malformed"), ("federation.broker.direction", "request")));
    }

    [Theory]
    [InlineData("[\"a\",\"b\",\"c\"]", true)]
    [InlineData(" [ \"a\" , \"b\" , \"c\" ] ", true)]
    [InlineData("[\"\\u0041\",\"b\",\"c\"]", true)]
    [InlineData("[\"\\ud800\",\"b\",\"c\"]", false)]
    [InlineData("[\"a\",\"b\",\"c\",\"d\"]", false)]
    [InlineData("[[\"a\"],\"b\",\"c\"]", false)]
    [InlineData("{}", false)]
    public void The_relay_check_agrees_with_the_reader(string entry, bool wellFormed)
    {
        Assert.Equal(wellFormed, SeenByHop.TryParse(entry, out _));
        Assert.Equal(wellFormed, SeenByHop.IsWellFormed(entry));
        var longer = new SeenByHop("nats://" + new string('a', 400) + ":4222", "\u00e9t\u00e9", "nats://b:4222").Format(); // past the stack buffer
        Assert.True(SeenByHop.IsWellFormed(longer));
    }

    [Theory]
    [InlineData("[\"\\ud800\",\"a\",\"b\"]")] // an escaped lone surrogate: valid JSON, no text
    [InlineData("[\"a\",\"b\"]")]
    [InlineData("not json")]
    public void An_unreadable_entry_is_skipped_and_the_rest_of_the_trail_is_kept(string entry)
    {
        var good = new SeenByHop("nats://a", "broker", "nats://b");
        var message = new SubjectMessage("x", ReadOnlyMemory<byte>.Empty, [new(FederationHeaders.SeenBy, entry), new(FederationHeaders.SeenBy, good.Format())]);

        Assert.False(SeenByHop.TryParse(entry, out _));
        Assert.Equal([good], FederatedMessages.GetSeenBy(message));
    }

    [Fact]
    public void An_entry_with_a_raw_lone_surrogate_is_skipped_not_thrown()
    {
        // A .NET string, as the in-memory bus hands headers over (an attribute argument cannot hold it): no UTF-8 for the parser.
        foreach (var entry in new[] { "[\"" + '\ud800' + "\",\"a\",\"b\"]", '\udc00'.ToString() })
        {
            var message = new SubjectMessage("x", ReadOnlyMemory<byte>.Empty, [new(FederationHeaders.SeenBy, entry)]);

            Assert.False(SeenByHop.TryParse(entry, out _));
            Assert.Empty(FederatedMessages.GetSeenBy(message));
        }
    }
}
