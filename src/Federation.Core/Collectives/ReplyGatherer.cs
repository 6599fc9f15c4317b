using Federation.Core.Transport.Messaging;

namespace Federation.Core.Collectives;

/// <summary>
/// Collects the replies of one request until an expected count arrives, keeping at most <paramref name="max"/> replies and
/// <paramref name="maxBytes"/> bytes of them: a reply past either is counted, not kept, and ends the wait.
/// </summary>
/// <param name="expected">The replies to wait for, or null for the whole timeout.</param>
/// <param name="max">The most replies kept.</param>
/// <param name="maxBytes">The most bytes of replies kept.</param>
/// <param name="federations">The federations the request went to: once no broker serves any of them, nothing can answer and the wait ends.</param>
internal sealed class ReplyGatherer(int? expected, int max, long maxBytes = FederatedRequest.DefaultMaxReplyBytes, int federations = 1)
{
    private readonly SortedSet<int> _unserved = [];
    private readonly Lock _gate = new();
    private readonly List<SubjectMessage> _replies = [];
    private readonly TaskCompletionSource _enough = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _dropped;
    private long _bytes;

    /// <summary>Replies that arrived when the most to keep were already kept.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public ValueTask AddAsync(SubjectMessage reply, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var size = SizeOf(reply);
            if (_replies.Count >= max || size > maxBytes - _bytes)
            {
                _dropped++;
                _enough.TrySetResult();
                return ValueTask.CompletedTask;
            }

            // The transport may reuse the body after this handler returns.
            _replies.Add(reply with { Body = reply.Body.ToArray() });
            _bytes += size;
            if (_replies.Count >= expected || _replies.Count >= max || _bytes >= maxBytes)
            {
                _enough.TrySetResult();
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The transport said that nothing subscribes to federation <paramref name="index"/>'s cluster subject.</summary>
    public void Unserved(int index)
    {
        lock (_gate)
        {
            if ((uint)index < (uint)federations && _unserved.Add(index) && _unserved.Count == federations)
            {
                _enough.TrySetResult();
            }
        }
    }

    /// <summary>The indexes of the federations no broker serves, in order.</summary>
    public IReadOnlyList<int> UnservedIndexes()
    {
        lock (_gate)
        {
            return [.. _unserved];
        }
    }

    /// <summary>What a reply costs against the byte cap: its body, and its header names and values as UTF-8.</summary>
    private static long SizeOf(SubjectMessage reply)
    {
        long size = reply.Body.Length;
        if (reply.Headers is { } headers)
        {
            // Indexed: foreach over the interface would allocate an enumerator per reply.
            for (var i = 0; i < headers.Count; i++)
            {
                size += System.Text.Encoding.UTF8.GetByteCount(headers[i].Key) + System.Text.Encoding.UTF8.GetByteCount(headers[i].Value ?? string.Empty);
            }
        }

        return size;
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
