using System.Diagnostics;

namespace Federation.Core.Diagnostics;

/// <summary>
/// The two spans of one forwarded message: the consumer span that processes the upstream delivery and, under it, the
/// producer span whose context the republished message carries. <see langword="default"/> when nothing is traced.
/// </summary>
/// <remarks>
/// The spans stay open until the forward settles (the downstream confirmed, or the forward failed), which may be after the
/// consumer callback has returned; so <see cref="Detach"/> hands the caller's <see cref="Activity.Current"/> back as soon as
/// the publish call returns, and <see cref="End"/> stops the spans wherever the settlement runs.
/// </remarks>
internal readonly struct ForwardSpans(Activity? process, Activity? publish, Activity? previous)
{
    /// <summary>The producer span, current while the transport's publish call runs (its client's own span nests under it).</summary>
    public Activity? Publish => publish;

    /// <summary>The consumer span.</summary>
    public Activity? Process => process;

    /// <summary>Restores the <see cref="Activity.Current"/> the forward started with, so no span leaks into the consumer's dispatch.</summary>
    public void Detach()
    {
        if (process is not null)
        {
            Activity.Current = previous;
        }
    }

    /// <summary>Ends both spans; a failure marks them as errors with the semantic conventions' <c>error.type</c>.</summary>
    public void End(Exception? error)
    {
        if (process is null)
        {
            return;
        }

        if (error is not null)
        {
            var type = error.GetType().FullName;
            publish?.SetStatus(ActivityStatusCode.Error).SetTag("error.type", type);
            process.SetStatus(ActivityStatusCode.Error).SetTag("error.type", type);
        }

        publish?.Stop();
        process.Stop();
    }
}
