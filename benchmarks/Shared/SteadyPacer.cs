using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Federation.Benchmarking;

/// <summary>
/// Releases items at a steady rate for a paced run: item i is due i / rate seconds after the pacer starts, and
/// <see cref="WaitAsync"/> returns once the next item is due. A thread of its own sleeps with <c>usleep</c> (microsecond
/// resolution; about 80 µs late on the 2-core test machine) until each item is due.
/// </summary>
/// <remarks>
/// Why not a 1 ms timer tick (<c>Task.Delay(1)</c> or a <c>PeriodicTimer</c>), as the paced modes used before: on the
/// test machine a tick took about 3.4 ms, so "5,000 msg/s" went out as bursts of 17 every 3.4 ms (seen in a loopback
/// capture), and a burst queues behind itself at every hop of the path, which is not the latency at a steady rate.
/// Due times are absolute, so a late wake-up does not slow the rate: what is overdue is released at once.
/// </remarks>
internal sealed partial class SteadyPacer : IDisposable
{
    private readonly SemaphoreSlim _due = new(0);
    private readonly Thread _thread;
    private readonly double _ratePerSecond;
    private readonly long _count;
    private readonly long _started = Stopwatch.GetTimestamp();
    private volatile bool _stopped;

    /// <summary>Starts releasing <paramref name="count"/> items at <paramref name="ratePerSecond"/>, the first at once.</summary>
    public SteadyPacer(double ratePerSecond, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ratePerSecond);
        _ratePerSecond = ratePerSecond;
        _count = count;
        _thread = new Thread(Run) { IsBackground = true, Name = "steady pacer" };
        _thread.Start();
    }

    /// <summary>Waits until the next item is due.</summary>
    public Task WaitAsync(CancellationToken cancellationToken) => _due.WaitAsync(cancellationToken);

    public void Dispose()
    {
        _stopped = true;
        _thread.Join();
        _due.Dispose();
    }

    private void Run()
    {
        for (long i = 0; i < _count && !_stopped; i++)
        {
            var due = _started + (long)(i * Stopwatch.Frequency / _ratePerSecond);
            for (var left = due - Stopwatch.GetTimestamp(); left > 0 && !_stopped; left = due - Stopwatch.GetTimestamp())
            {
                // At most 100 ms per sleep, so that Dispose is not held up by a slow rate.
                _ = Sleep((uint)Math.Min(left * 1_000_000 / Stopwatch.Frequency, 100_000));
            }

            _due.Release();
        }
    }

    [LibraryImport("libc", EntryPoint = "usleep")]
    private static partial int Sleep(uint microseconds);
}
