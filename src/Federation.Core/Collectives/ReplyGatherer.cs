using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>Collects the replies of one request until an expected count arrives.</summary>
internal sealed class ReplyGatherer(int? expected)
{
    private readonly Lock _gate = new();
    private readonly List<SubjectMessage> _replies = [];
    private readonly TaskCompletionSource _enough = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValueTask AddAsync(SubjectMessage reply, CancellationToken cancellationToken)
    {
        // The transport may reuse the body after this handler returns.
        var copy = reply with { Body = reply.Body.ToArray() };
        lock (_gate)
        {
            _replies.Add(copy);
            if (_replies.Count >= expected)
            {
                _enough.TrySetResult();
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>True when the expected count arrived in time; false on timeout.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (expected is 0)
        {
            return true;
        }

        try
        {
            await _enough.Task.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
            return true;
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
