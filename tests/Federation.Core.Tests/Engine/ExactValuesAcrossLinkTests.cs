using Federation.Core.Transport;
using Xunit;

namespace Federation.Core.Tests.Engine;

/// <summary>A link forwards values the common .NET types cannot hold as they came: a far-future timestamp, text that is not UTF-8.</summary>
public sealed class ExactValuesAcrossLinkTests : IAsyncLifetime
{
    private readonly Testbed testbed = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await testbed.DisposeAsync();

    [Fact]
    public async Task A_far_future_timestamp_and_non_utf8_text_cross_a_link_unchanged()
    {
        var (_, queue) = await testbed.StartSimpleLinkAsync();
        var milliseconds = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var properties = new MessageProperties
        {
            UnixTimestamp = milliseconds,
            Headers = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["when"] = new UnrepresentableTimestamp(long.MaxValue),
                ["text"] = new NonUtf8String([0x66, 0xC3, 0x28]),
            },
        };
        await Testbed.PublishAsync(await testbed.ConnectAsync("U"), "upstream", "key", "exact", properties);

        await queue.ExpectAsync("exact");
        var received = Assert.Single(queue.Received).Properties;
        Assert.Equal(milliseconds, received.UnixTimestamp);
        Assert.Null(received.Timestamp);
        Assert.Equal(new UnrepresentableTimestamp(long.MaxValue), received.Headers!["when"]);
        Assert.Equal(new NonUtf8String([0x66, 0xC3, 0x28]), received.Headers["text"]);
    }
}
