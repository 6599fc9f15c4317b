using System.Globalization;
using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Federation.Nats.Tests.JetStream;

/// <summary>
/// Publishes to JetStream at a steady rate of about 500 messages a second (5 every 10 ms), as a real producer does while
/// links restart or move, until stopped. Each body is the message's number from 0, so a test can tell which arrived, and how
/// often. The pause between bursts is the rate, not a wait for something to happen.
/// </summary>
internal sealed class SteadyJetStreamPublisher : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _producing;
    private int _published;

    /// <param name="url">The server to publish on.</param>
    /// <param name="subjectOf">The subject of message <c>n</c>.</param>
    public SteadyJetStreamPublisher(string url, Func<int, string> subjectOf) => _producing = Task.Run(() => ProduceAsync(url, subjectOf));

    /// <summary>How many messages the server has acknowledged so far.</summary>
    public int Published => Volatile.Read(ref _published);

    /// <summary>Stops publishing and returns how many messages were published in all.</summary>
    public async Task<int> StopAsync()
    {
        await _stop.CancelAsync();
        await _producing;
        return Published;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task ProduceAsync(string url, Func<int, string> subjectOf)
    {
        await using var nats = new NatsConnection(new NatsOpts { Url = url, Name = "test-producer" });
        var js = new NatsJSContext(nats);
        while (!_stop.IsCancellationRequested)
        {
            for (var i = 0; i < 5; i++)
            {
                var n = Published;
                (await js.PublishAsync(subjectOf(n), Encoding.ASCII.GetBytes(n.ToString(CultureInfo.InvariantCulture)))).EnsureSuccess();
                Interlocked.Increment(ref _published);
            }

            await Task.Delay(10);
        }
    }
}
