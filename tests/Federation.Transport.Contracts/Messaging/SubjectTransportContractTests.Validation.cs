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
