using System.Globalization;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Publishes m0, m1, ... to the "upstream" exchange of a connection one after the other, paced in real time, until
/// stopped: the steady traffic that rename and reload tests look at (what arrives, what is lost, what is duplicated).
/// </summary>
internal sealed class ContinuousPublisher : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _published;

    public ContinuousPublisher(IBrokerConnection connection) => _loop = Task.Run(() => RunAsync(connection));

    /// <summary>How many were published (confirmed): m0 .. m(Published - 1).</summary>
    public int Published => Volatile.Read(ref _published);

    /// <summary>The body of the message numbered <paramref name="i"/>.</summary>
    public static string Body(int i) => $"m{i.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Stops, and returns how many were published.</summary>
    public async Task<int> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        return Published;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task RunAsync(IBrokerConnection connection)
    {
        while (!_stop.IsCancellationRequested)
        {
            await Testbed.PublishAsync(connection, "upstream", "key", Body(Published));
            Interlocked.Increment(ref _published);

            // The pacing is the traffic under test, not a wait for a condition: a steady stream (some hundreds a second)
            // that a link keeps up with, also while a fake clock moves, so that a test waits for what a rename or reload
            // did with it, not for a backlog to drain.
            await Task.Delay(1);
        }
    }
}
