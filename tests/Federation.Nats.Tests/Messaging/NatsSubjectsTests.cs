using Federation.Nats.Messaging;

namespace Federation.Nats.Tests.Messaging;

/// <summary>
/// The subject and queue-group validation the subject transport does before anything reaches the official client, with
/// messages that name the offending subject.
/// </summary>
public sealed class NatsSubjectsTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("a.b.c")]
    [InlineData("_INBOX.abc.1")]
    [InlineData("$JS.API.x")]
    [InlineData("zürich.😀")]
    public void Valid_publish_subjects(string subject)
    {
        Assert.True(NatsSubjects.IsValidPublish(subject));
        Assert.True(NatsSubjects.IsValidSubscribe(subject));
    }

    [Theory]
    [InlineData("a.*")]
    [InlineData("*")]
    [InlineData(">")]
    [InlineData("a.*.>")]
    public void Wildcards_only_in_subscriptions(string subject)
    {
        Assert.True(NatsSubjects.IsValidSubscribe(subject));
        var error = Assert.Throws<ArgumentException>(() => NatsSubjects.ValidatePublish(subject));
        Assert.Contains(subject, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a..b")]
    [InlineData(".a")]
    [InlineData("a.")]
    [InlineData("a b")]
    [InlineData("a\tb")]
    [InlineData("a\r\nPUB x 1")]
    [InlineData("a.>.b")]
    public void Invalid_subjects_are_rejected_everywhere(string subject)
    {
        Assert.False(NatsSubjects.IsValidSubscribe(subject));
        Assert.False(NatsSubjects.IsValidPublish(subject));
        Assert.Throws<ArgumentException>(() => NatsSubjects.ValidateSubscribe(subject));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    public void Invalid_queue_groups_are_rejected(string queueGroup) =>
        Assert.Throws<ArgumentException>(() => NatsSubjects.ValidateQueueGroup(queueGroup));
}
