using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>
/// Collects the replies of one request until an expected count arrives, keeping at most <paramref name="max"/>: what comes
/// after that is counted, not kept, and ends the wait.
/// </summary>
internal sealed class ReplyGatherer(int? expected, int max)
{
    private readonly Lock _gate = new();
    private readonly List<SubjectMessage> _replies = [];
    private readonly TaskCompletionSource _enough = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _dropped;

    /// <summary>Replies that arrived when the most to keep were already kept.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public ValueTask AddAsync(SubjectMessage reply, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_replies.Count >= max)
            {
                _dropped++;
                _enough.TrySetResult();
                return ValueTask.CompletedTask;
            }

            // The transport may reuse the body after this handler returns.
            _replies.Add(reply with { Body = reply.Body.ToArray() });
            if (_replies.Count >= expected || _replies.Count >= max)
            {
                _enough.TrySetResult();
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>True when the expected count arrived in time; false on timeout or when the cap ended the wait first.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (expected is 0)
        {
            return true;
        }

        try
        {
            await _enough.Task.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                return _replies.Count >= expected;
            }
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public IReadOnlyList<SubjectMessage> Snapshot()
    {
        lock (_gate)
        {
            return [.. _replies];
        }
    }
}
