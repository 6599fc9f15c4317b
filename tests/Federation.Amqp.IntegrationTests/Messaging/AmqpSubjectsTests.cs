using System.Text;
using Federation.Amqp.Messaging;

namespace Federation.Amqp.IntegrationTests.Messaging;

/// <summary>The NATS-subject to AMQP-topic mapping, and what it refuses (no broker needed).</summary>
public sealed class AmqpSubjectsTests
{
    [Theory]
    [InlineData("a.b.c", "a.b.c")]
    [InlineData("a.*.c", "a.*.c")]
    [InlineData("a.>", "a.*.#")]
    [InlineData("*.>", "*.*.#")]
    [InlineData(">", "*.#")]
    [InlineData("a.b>", "a.b>")]
    public void Subscription_subjects_map_to_binding_keys(string subject, string bindingKey)
    {
        AmqpSubjects.ValidateSubscribe(subject);

        Assert.Equal(bindingKey, AmqpSubjects.ToBindingKey(subject));
    }

    [Theory]
    [InlineData("a.#")]
    [InlineData("#")]
    [InlineData("#.b")]
    public void A_hash_token_is_refused_in_subscriptions_and_publishes_naming_the_subject(string subject)
    {
        var subscribe = Assert.Throws<ArgumentException>(() => AmqpSubjects.ValidateSubscribe(subject));
        var publish = Assert.Throws<ArgumentException>(() => AmqpSubjects.ValidatePublish(subject));

        Assert.Contains($"'{subject}'", subscribe.Message, StringComparison.Ordinal);
        Assert.Contains("'#'", subscribe.Message, StringComparison.Ordinal);
        Assert.Contains($"'{subject}'", publish.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hash_inside_a_token_is_an_ordinary_character()
    {
        AmqpSubjects.ValidatePublish("a.b#c");
        AmqpSubjects.ValidateSubscribe("a.#b.*");
    }

    [Fact]
    public void Keys_over_255_bytes_of_utf8_are_refused_naming_the_subject_and_the_size()
    {
        var fits = "a." + new string('é', 126); // 2 + 252 = 254 bytes
        var tooLong = fits + "é";                // 256 bytes
        AmqpSubjects.ValidatePublish(fits);

        var error = Assert.Throws<ArgumentException>(() => AmqpSubjects.ValidatePublish(tooLong));

        Assert.Contains($"'{tooLong}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("256 bytes", error.Message, StringComparison.Ordinal);

        // ">" grows by two bytes as "*.#": a subscription that fits as a subject may not fit as a binding key.
        var subscription = new string('x', 252) + ".>";  // 254 bytes as a subject, 256 as a binding key
        Assert.Throws<ArgumentException>(() => AmqpSubjects.ValidateSubscribe(subscription));
    }

    [Fact]
    public void Group_queues_are_per_group_and_subject_and_long_names_are_hashed_stably()
    {
        Assert.Equal("federation.subject-group london_federation choria.federation.london.federation",
            AmqpSubjects.GroupQueueName("choria.federation.london.federation", "london_federation"));
        Assert.NotEqual(AmqpSubjects.GroupQueueName("b.c", "a"), AmqpSubjects.GroupQueueName("c", "a.b"));

        var longSubject = string.Join('.', Enumerable.Repeat("token", 50));
        var hashed = AmqpSubjects.GroupQueueName(longSubject, "workers");
        Assert.True(Encoding.UTF8.GetByteCount(hashed) <= 255);
        Assert.Equal(hashed, AmqpSubjects.GroupQueueName(longSubject, "workers"));
        Assert.NotEqual(hashed, AmqpSubjects.GroupQueueName(longSubject, "others"));
    }
}
