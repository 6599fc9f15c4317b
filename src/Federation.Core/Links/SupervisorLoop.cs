using System.Threading.Channels;
using Federation.Core.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// The one loop that owns the supervisor's state: work is posted to it and runs one item at a time, in order, so the
/// downstream connection, the topology mirror and the running links change without locks. A failed item is logged and
/// the loop goes on.
/// </summary>
internal sealed class SupervisorLoop
{
    private readonly Channel<Func<Task>> _inbox = Channel.CreateUnbounded<Func<Task>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ILogger _logger;
    private readonly CancellationToken _stopping;

    public SupervisorLoop(ILogger logger, CancellationToken stopping)
    {
        _logger = logger;
        _stopping = stopping;
        Completion = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>Completes once <see cref="Complete"/> was called and the work already posted has run.</summary>
    public Task Completion { get; }

    /// <summary>Queues work without waiting for it; false once the loop takes no more.</summary>
    public bool TryPost(Func<Task> work) => _inbox.Writer.TryWrite(work);

    /// <summary>Queues work without waiting for it; dropped once the loop takes no more.</summary>
    public void Post(Func<Task> work) => _inbox.Writer.TryWrite(work);

    /// <summary>Queues work and completes when it has run, with its failure if it failed.</summary>
    public Task<bool> Ask(Func<Task> work) => Ask(async () =>
    {
        await work().ConfigureAwait(false);
        return true;
    });

    /// <summary>Queues work and completes with its result when it has run, with its failure if it failed.</summary>
    public Task<T> Ask<T>(Func<Task<T>> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var posted = _inbox.Writer.TryWrite(async () =>
        {
            try
            {
                done.TrySetResult(await work().ConfigureAwait(false));
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        });
        if (!posted)
        {
            // Named after the public type callers hold (a string: Links does not reference the layer above it).
            done.TrySetException(new ObjectDisposedException("Federation.Core.FederationEngine", "The federation engine was stopped; it takes no more changes."));
        }

        return done.Task;
    }

    /// <summary>Takes no more work; what is queued still runs.</summary>
    public void Complete() => _inbox.Writer.TryComplete();

    private async Task RunAsync()
    {
        await foreach (var work in _inbox.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await work().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // Stopping: work cut short on purpose.
            }
            catch (Exception ex)
            {
                Log.SupervisorFailed(_logger, ex);
            }
        }
    }
}
