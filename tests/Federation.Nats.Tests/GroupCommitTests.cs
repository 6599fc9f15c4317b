using System.Buffers;
using System.Text;
using Federation.Nats.Client;
using Federation.Nats.Protocol;

namespace Federation.Nats.Tests;

/// <summary>
/// <see cref="CommandWriter.FlushAtBatchEnd"/>: confirmed publishes share one PING per socket write (what the NATS
/// transport's on-confirm publisher uses), and the PING always follows the publishes it confirms.
/// </summary>
public class GroupCommitTests
{
    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    private static async Task<string> WaitForTextAsync(MemoryStream stream, Func<string, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (true)
        {
            string text;
            lock (stream)
            {
                text = Encoding.ASCII.GetString(stream.ToArray());
            }

            if (condition(text))
            {
                return text;
            }

            Assert.True(DateTime.UtcNow < deadline, "the send loop wrote only: " + text);
            await Task.Delay(PollInterval);
        }
    }

    [Fact]
    public async Task Callers_before_one_write_share_one_ping_that_follows_every_publish_of_that_write()
    {
        var writer = new CommandWriter(1024 * 1024);
        writer.Open();
        writer.Publish("s", null, null, new ReadOnlySequence<byte>("1"u8.ToArray()));
        var first = writer.FlushAtBatchEnd();
        writer.Publish("s", null, null, new ReadOnlySequence<byte>("2"u8.ToArray()));
        var second = writer.FlushAtBatchEnd();
        Assert.Same(first, second);

        var stream = new MemoryStream();
        using var cts = new CancellationTokenSource();
        var loop = writer.RunSendLoopAsync(stream, cts.Token);
        var text = await WaitForTextAsync(stream, t => t.EndsWith("PING\r\n", StringComparison.Ordinal));
        Assert.Equal("PUB s 1\r\n1\r\nPUB s 1\r\n2\r\nPING\r\n", text);
        Assert.False(first.IsCompleted);

        writer.OnPong();
        await first.WaitAsync(TimeSpan.FromSeconds(5));

        // Nothing pending any more: a new caller gets a new PING of its own, written even with no publish before it.
        var third = writer.FlushAtBatchEnd();
        Assert.NotSame(first, third);
        text = await WaitForTextAsync(stream, t => t.Split("PING\r\n").Length - 1 == 2);
        Assert.EndsWith("2\r\nPING\r\nPING\r\n", text, StringComparison.Ordinal);
        writer.OnPong();
        await third.WaitAsync(TimeSpan.FromSeconds(5));

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    [Fact]
    public async Task Closing_fails_a_batch_flush_not_yet_written_and_a_closed_writer_refuses_one()
    {
        var writer = new CommandWriter(1024);
        Assert.Throws<NatsNotConnectedException>(() => { _ = writer.FlushAtBatchEnd(); });

        writer.Open();
        writer.Publish("s", null, null, ReadOnlySequence<byte>.Empty);
        var pending = writer.FlushAtBatchEnd();
        Assert.Equal(1, writer.Close(new NatsNotConnectedException()));
        await Assert.ThrowsAsync<NatsNotConnectedException>(() => pending);
    }

    [Fact]
    public async Task An_encoded_header_block_goes_out_as_an_hpub()
    {
        var writer = new CommandWriter(1024);
        writer.Open();
        writer.Publish("s", null, null, new ReadOnlySequence<byte>("1"u8.ToArray()), "NATS/1.0\r\nk: v\r\n\r\n"u8);
        writer.Publish("s", null, null, new ReadOnlySequence<byte>("2"u8.ToArray()), ReadOnlySpan<byte>.Empty);

        var stream = new MemoryStream();
        using var cts = new CancellationTokenSource();
        var loop = writer.RunSendLoopAsync(stream, cts.Token);
        var text = await WaitForTextAsync(stream, t => t.EndsWith("2\r\n", StringComparison.Ordinal));
        Assert.Equal("HPUB s 18 19\r\nNATS/1.0\r\nk: v\r\n\r\n1\r\nPUB s 1\r\n2\r\n", text);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }
}
