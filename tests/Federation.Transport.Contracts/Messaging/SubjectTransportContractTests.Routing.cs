using System.Globalization;
using Xunit;

namespace Federation.Transport.Contracts.Messaging;

public abstract partial class SubjectTransportContractTests
{
    [Fact]
    public async Task Publish_ReachesAnExactSubscription_AndNoOtherSubject()
    {
        var prefix = UniqueSubject("exact");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var recorder = await SubjectRecorder.StartAsync(subscriber, $"{prefix}.a", null, Ct);

        await PublishAsync(publisher, $"{prefix}.b", "other-token");
        await PublishAsync(publisher, $"{prefix}.a.c", "longer");
        await PublishAsync(publisher, prefix, "shorter");
        await PublishAsync(publisher, $"{prefix}.a", "m1");

        Assert.Equal(["m1"], await ReceivedBeforeMarkerAsync(publisher, $"{prefix}.a", recorder));
        Assert.Equal($"{prefix}.a", recorder.Messages[0].Subject);
    }

    [Fact]
    public async Task StarWildcard_MatchesExactlyOneToken()
    {
        var prefix = UniqueSubject("star");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var recorder = await SubjectRecorder.StartAsync(subscriber, $"{prefix}.*.end", null, Ct);

        await PublishAsync(publisher, $"{prefix}.x.end", "x");
        await PublishAsync(publisher, $"{prefix}.x.y.end", "two-tokens");
        await PublishAsync(publisher, $"{prefix}.end", "no-token");
        await PublishAsync(publisher, $"{prefix}.x.end.more", "longer");
        await PublishAsync(publisher, $"{prefix}.y.end", "y");

        Assert.Equal(["x", "y"], await ReceivedBeforeMarkerAsync(publisher, $"{prefix}.m.end", recorder));
        Assert.Equal([$"{prefix}.x.end", $"{prefix}.y.end"], recorder.Messages.Take(2).Select(m => m.Subject));
    }

    [Fact]
    public async Task GreaterThanWildcard_MatchesOneOrMoreTrailingTokens()
    {
        var prefix = UniqueSubject("gt");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var recorder = await SubjectRecorder.StartAsync(subscriber, $"{prefix}.>", null, Ct);

        await PublishAsync(publisher, prefix, "zero-tokens");
        await PublishAsync(publisher, $"{prefix}.a", "one");
        await PublishAsync(publisher, $"{prefix}x.a", "other-prefix");
        await PublishAsync(publisher, $"{prefix}.a.b.c", "three");

        Assert.Equal(["one", "three"], await ReceivedBeforeMarkerAsync(publisher, $"{prefix}.m", recorder));
    }

    [Fact]
    public async Task Subscription_IsActive_WhenSubscribeReturns()
    {
        var subject = UniqueSubject("active");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();

        var recorder = await SubjectRecorder.StartAsync(subscriber, subject, null, Ct);
        await PublishAsync(publisher, subject, "first");

        await Eventually.TrueAsync(() => recorder.Count == 1, Patience, "a publish right after SubscribeAsync returned should arrive");
        Assert.Equal(["first"], recorder.Bodies);
    }

    [Fact]
    public async Task MessagesFromOnePublisher_ArriveInPublishOrder()
    {
        const int Count = 500;
        var subject = UniqueSubject("order");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var recorder = await SubjectRecorder.StartAsync(subscriber, subject, null, Ct);

        for (var i = 0; i < Count; i++)
        {
            await PublishAsync(publisher, subject, i.ToString(CultureInfo.InvariantCulture));
        }

        await Eventually.TrueAsync(() => recorder.Count == Count, Patience);
        Assert.Equal(Enumerable.Range(0, Count).Select(i => i.ToString(CultureInfo.InvariantCulture)), recorder.Bodies);
    }

    [Fact]
    public async Task Flush_Completes_AndConnectedServerHasNoCredentials()
    {
        var connection = await OpenAsync();
        await PublishAsync(connection, UniqueSubject("flush"), "nobody-listens");

        await connection.FlushAsync(Ct).AsTask().WaitAsync(Patience, Ct);

        Assert.NotNull(connection.ConnectedServer);
        Assert.DoesNotContain("@", connection.ConnectedServer, StringComparison.Ordinal);
        Assert.DoesNotContain("@", connection.DisplayUri, StringComparison.Ordinal);
        Assert.False(connection.Completion.IsCompleted);
    }
}
