using System.Text;
using Federation.Amqp.Messaging;
using Federation.Core.Transport.Messaging;

namespace Federation.Amqp.IntegrationTests.Messaging;

/// <summary>
/// What AMQP cannot carry (routing keys and header-table keys are short strings, at most 255 bytes) is refused by the
/// publish that asks for it, naming the limit, and the connection goes on as if it had not been asked.
/// </summary>
[Collection(ContractNodeCollection.Name)]
public sealed class AmqpSubjectLimitTests(RabbitMqNodeFixture fixture)
{
    [Fact]
    public async Task A_subject_over_255_bytes_is_refused_naming_the_limit_and_the_connection_goes_on()
    {
        await using var connection = await ConnectAsync("long-subject");
        var prefix = $"limits.{Guid.NewGuid():N}";
        var received = await SubscribeAsync(connection, $"{prefix}.ok");

        var error = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await connection.PublishAsync(new SubjectMessage($"{prefix}.{new string('x', 300)}", "lost"u8.ToArray()), CancellationToken.None));

        Assert.Contains("255", error.Message, StringComparison.Ordinal);
        await connection.PublishAsync(new SubjectMessage($"{prefix}.ok", "after"u8.ToArray()), CancellationToken.None);
        Assert.Equal("after", await received.Task.WaitAsync(Poll.Deadline));
        Assert.False(connection.Completion.IsCompleted);
    }

    [Fact]
    public async Task A_header_name_over_255_bytes_is_refused_naming_the_header_and_the_limit_and_the_connection_goes_on()
    {
        await using var connection = await ConnectAsync("long-header");
        var prefix = $"limits.{Guid.NewGuid():N}";
        var received = await SubscribeAsync(connection, $"{prefix}.ok");
        var name = new string('h', 300);

        var error = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await connection.PublishAsync(new SubjectMessage($"{prefix}.ok", "lost"u8.ToArray(), [new(name, "v")]), CancellationToken.None));

        // RabbitMQ.Client's own refusal is an encoder error naming neither.
        Assert.Contains("Header name 'hhh", error.Message, StringComparison.Ordinal);
        Assert.Contains("300 bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("255", error.Message, StringComparison.Ordinal);
        await connection.PublishAsync(new SubjectMessage($"{prefix}.ok", "after"u8.ToArray(), [new(new string('h', 255), "v")]), CancellationToken.None);
        Assert.Equal("after", await received.Task.WaitAsync(Poll.Deadline));
        Assert.False(connection.Completion.IsCompleted);
    }

    private ValueTask<ISubjectConnection> ConnectAsync(string name) =>
        new AmqpSubjectTransport().ConnectAsync(new SubjectConnectionRequest(fixture.Node.AmqpUri(), name), CancellationToken.None);

    private static async Task<TaskCompletionSource<string>> SubscribeAsync(ISubjectConnection connection, string subject)
    {
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await connection.SubscribeAsync(subject, null, (message, _) =>
        {
            received.TrySetResult(Encoding.UTF8.GetString(message.Body.Span));
            return ValueTask.CompletedTask;
        }, CancellationToken.None);
        return received;
    }
}
