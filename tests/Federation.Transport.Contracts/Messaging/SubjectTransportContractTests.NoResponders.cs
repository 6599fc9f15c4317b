using Federation.Core.Transport.Messaging;
using Xunit;

namespace Federation.Transport.Contracts.Messaging;

public abstract partial class SubjectTransportContractTests
{
    /// <summary>
    /// Whether the transport tells a publisher, on its message's reply subject, that the message reached no subscriber
    /// (<see cref="SubjectMessage.IsNoResponders"/>). A transport that cannot know must never send such a notice.
    /// </summary>
    protected virtual bool ReportsNoResponders => true;

    [Fact]
    public async Task AMessageWithAReplySubject_ThatReachesNoSubscriber_BringsANoRespondersNotice_WhereTheTransportCanKnow()
    {
        var nobody = UniqueSubject("nobody");
        var replySubject = UniqueSubject("inbox");
        var requester = await OpenAsync();
        var replies = await SubjectRecorder.StartAsync(requester, replySubject, null, Ct);
        var workers = await SubjectRecorder.StartAsync(requester, replySubject, "workers", Ct);
        var observer = await OpenAsync();
        var observed = await SubjectRecorder.StartAsync(observer, replySubject, null, Ct);

        await PublishAsync(requester, nobody, "anyone?", replyTo: replySubject);

        var before = await ReceivedBeforeMarkerAsync(requester, replySubject, replies);

        // Only the publisher is told, and not at a queue subscription.
        Assert.Empty(await ReceivedBeforeMarkerAsync(requester, replySubject, observed));
        Assert.Empty(await ReceivedBeforeMarkerAsync(requester, replySubject, workers));
        if (!ReportsNoResponders)
        {
            Assert.Empty(before);
            Assert.All(replies.Messages, m => Assert.False(m.IsNoResponders));
            return;
        }

        var notice = Assert.Single(replies.Messages, m => m.IsNoResponders);
        Assert.Equal(replySubject, notice.Subject);
        Assert.True(notice.Body.IsEmpty);
        Assert.Null(notice.Headers);
        Assert.Null(notice.ReplyTo);
    }

    [Fact]
    public async Task AMessageThatReachesASubscriber_OrHasNoReplySubject_BringsNoNotice()
    {
        var served = UniqueSubject("served");
        var nobody = UniqueSubject("nobody");
        var replySubject = UniqueSubject("inbox");
        var requester = await OpenAsync();
        var responder = await OpenAsync();
        var requests = await SubjectRecorder.StartAsync(responder, served, "workers", Ct);
        var replies = await SubjectRecorder.StartAsync(requester, replySubject, null, Ct);

        await PublishAsync(requester, served, "served", replyTo: replySubject);
        await PublishAsync(requester, nobody, "no reply subject");
        var notice = new SubjectMessage(replySubject, ReadOnlyMemory<byte>.Empty) { IsNoResponders = true };
        await requester.PublishAsync(notice, Ct); // a publisher cannot forge a notice: it arrives as an ordinary message

        await Eventually.TrueAsync(() => requests.Count == 1, Patience);
        var before = await ReceivedBeforeMarkerAsync(requester, replySubject, replies);
        Assert.Single(before);
        Assert.All(replies.Messages, m => Assert.False(m.IsNoResponders));
    }
}
