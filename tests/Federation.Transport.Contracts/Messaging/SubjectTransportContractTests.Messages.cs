using System.Text;
using Federation.Core.Transport.Messaging;
using Xunit;

namespace Federation.Transport.Contracts.Messaging;

public abstract partial class SubjectTransportContractTests
{
    [Fact]
    public async Task Headers_KeepEveryValueOfARepeatedName_InOrder_AndTheNamesSpelling()
    {
        var subject = UniqueSubject("headers");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var recorder = await SubjectRecorder.StartAsync(subscriber, subject, null, Ct);
        KeyValuePair<string, string>[] headers =
        [
            new("Seen-By", "hop-1"),
            new("Seen-By", "hop-2"),
            new("Seen-By", "hop-3"),
            new("X-Federation-Req", "0123456789abcdef0123456789abcdef"),
            new("x-empty", string.Empty),
            new("x-text", "a value with spaces, = and : inside"),
        ];

        await PublishAsync(publisher, subject, "with-headers", headers);

        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);
        Assert.Equal(headers, recorder.Messages[0].Headers);
    }

    [Fact]
    public async Task AMessageWithoutHeaders_ArrivesWithNullHeaders()
    {
        var subject = UniqueSubject("noheaders");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var recorder = await SubjectRecorder.StartAsync(subscriber, subject, null, Ct);

        await PublishAsync(publisher, subject, "plain");
        await PublishAsync(publisher, subject, "empty-list", []);

        await Eventually.TrueAsync(() => recorder.Count == 2, Patience);
        Assert.Null(recorder.Messages[0].Headers);
        Assert.Null(recorder.Messages[1].Headers); // an empty list is "no headers", as on the wire
    }

    [Fact]
    public async Task ReplyTo_IsPassedThrough_AndTheReplyArrives()
    {
        var subject = UniqueSubject("request");
        var replySubject = UniqueSubject("reply");
        var responderConnection = await OpenAsync();
        var requester = await OpenAsync();
        var replies = await SubjectRecorder.StartAsync(requester, replySubject, null, Ct);
        var requests = new SubjectRecorder[1];
        await using var responder = await responderConnection.SubscribeAsync(
            subject,
            null,
            async (message, token) =>
            {
                if (message.ReplyTo is { } replyTo)
                {
                    await responderConnection.PublishAsync(new SubjectMessage(replyTo, Encoding.UTF8.GetBytes("pong:" + Encoding.UTF8.GetString(message.Body.Span))), token);
                }
            },
            Ct);
        requests[0] = await SubjectRecorder.StartAsync(responderConnection, subject, null, Ct);

        await PublishAsync(requester, subject, "ping", replyTo: replySubject);
        await PublishAsync(requester, subject, "no-reply-expected");

        await Eventually.TrueAsync(() => replies.Count == 1 && requests[0].Count == 2, Patience);
        Assert.Equal(["pong:ping"], replies.Bodies);
        Assert.Equal(replySubject, requests[0].Messages[0].ReplyTo);
        Assert.Null(requests[0].Messages[1].ReplyTo);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(256)]
    [InlineData(-1)]
    public async Task Body_ArrivesByteForByte(int size)
    {
        var length = size < 0 ? LargeBodySize : size;
        var body = new byte[length];
        new Random(length).NextBytes(body);
        var subject = UniqueSubject("body");
        var subscriber = await OpenAsync();
        var publisher = await OpenAsync();
        var recorder = await SubjectRecorder.StartAsync(subscriber, subject, null, Ct);

        await publisher.PublishAsync(new SubjectMessage(subject, body), Ct);

        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);
        Assert.True(body.AsSpan().SequenceEqual(recorder.Messages[0].Body.Span), $"the {length}-byte body should arrive unchanged");
    }
}
