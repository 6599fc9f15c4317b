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
}
