using System.Text;
using Federation.Core.Transport.Messaging;
using Xunit;

namespace Federation.Transport.Contracts.Messaging;

public abstract partial class SubjectTransportContractTests
{
    [Theory]
    [InlineData("a..b")]
    [InlineData("a b")]
    [InlineData(".a")]
    [InlineData("a.")]
    [InlineData("a.>.b")]
    public async Task Subscribe_ToAnInvalidSubject_ThrowsArgumentExceptionNamingIt(string subject)
    {
        var connection = await OpenAsync();

        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.SubscribeAsync(subject, null, (_, _) => ValueTask.CompletedTask, Ct));

        Assert.Contains($"'{subject}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscribe_ToAnEmptySubject_ThrowsArgumentException()
    {
        var connection = await OpenAsync();

        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.SubscribeAsync(string.Empty, null, (_, _) => ValueTask.CompletedTask, Ct));
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData("a b")]
    [InlineData("a.*")]
    [InlineData("a.>")]
    [InlineData("*")]
    [InlineData(">")]
    public async Task Publish_ToAnInvalidOrWildcardSubject_ThrowsArgumentExceptionNamingIt(string subject)
    {
        var connection = await OpenAsync();

        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.PublishAsync(new SubjectMessage(subject, Encoding.UTF8.GetBytes("x")), Ct));

        Assert.Contains($"'{subject}'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("two words", "v", "'two words'")]
    [InlineData("a:b", "v", "'a:b'")]
    [InlineData("", "v", "empty name")]
    [InlineData("tab\there", "v", "'tab\\u0009here'")]
    [InlineData("caf\u00e9", "v", "'caf\u00e9'")]
    [InlineData("x-line", "one\r\nInjected: yes", "'x-line'")]
    [InlineData("x-line", "one\ntwo", "'x-line'")]
    public async Task Publish_WithABadHeaderField_ThrowsArgumentExceptionNamingIt_AndTheConnectionGoesOn(string name, string value, string named)
    {
        var subject = UniqueSubject("badheader");
        var connection = await OpenAsync();
        var recorder = await SubjectRecorder.StartAsync(connection, subject, null, Ct);

        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
            await connection.PublishAsync(new SubjectMessage(subject, Encoding.UTF8.GetBytes("bad"), [new("ok", "1"), new(name, value)]), Ct));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.False(error.Message.AsSpan().ContainsAny('\r', '\n'), "a hostile field must not put line breaks into a log");

        // Nothing of the refused message was sent, and the connection is not broken by it.
        await connection.PublishAsync(new SubjectMessage(subject, Encoding.UTF8.GetBytes("good"), [new("ok", "1")]), Ct);
        await Eventually.TrueAsync(() => recorder.Count == 1, Patience);
        Assert.Equal(["good"], recorder.Messages.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
    }

    [Fact]
    public async Task Publish_WithAWildcardReplySubject_ThrowsArgumentExceptionNamingIt()
    {
        var connection = await OpenAsync();

        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.PublishAsync(new SubjectMessage(UniqueSubject("reply"), Encoding.UTF8.GetBytes("x"), ReplyTo: "replies.*"), Ct));

        Assert.Contains("'replies.*'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscribe_WithAnInvalidQueueGroup_ThrowsArgumentExceptionNamingIt()
    {
        var connection = await OpenAsync();

        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () => await connection.SubscribeAsync(UniqueSubject("group"), "two words", (_, _) => ValueTask.CompletedTask, Ct));

        Assert.Contains("'two words'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancelledTokens_AreHonoured()
    {
        var connection = await OpenAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var subject = UniqueSubject("cancel");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await connection.PublishAsync(new SubjectMessage(subject, Encoding.UTF8.GetBytes("x")), cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await connection.SubscribeAsync(subject, null, (_, _) => ValueTask.CompletedTask, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await connection.FlushAsync(cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await ConnectAsync("cancelled", cancelled.Token));
    }
}
