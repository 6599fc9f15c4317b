using Federation.Core.Collectives;
using Federation.Core.Transport.Messaging;

namespace Federation.Core.Tests.Collectives;

/// <summary>A seen-by entry anyone could have written: one that is not three strings of text is skipped, never thrown.</summary>
public sealed class SeenByTrailTests
{
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
