namespace Federation.Core.Links;

/// <summary>
/// Whether warning 1019 (the link's sentinel could not be put in place) is due, for one link across its runs. An upstream
/// that refuses the sentinel refuses it at every start, and one that does not answer fails it at every retry: the warning
/// is said once, again when the cause changes, and again after a run that had the sentinel in place. Any thread.
/// </summary>
internal sealed class SentinelWarnings
{
    private readonly Lock _sync = new();
    private string? _warnedFor;

    /// <summary>Whether to warn of a failure with <paramref name="cause"/>: not when the last warning said the same.</summary>
    public bool ShouldWarn(string cause)
    {
        lock (_sync)
        {
            if (string.Equals(_warnedFor, cause, StringComparison.Ordinal))
            {
                return false;
            }

            _warnedFor = cause;
            return true;
        }
    }

    /// <summary>The sentinel is in place: the next failure is a new episode, warned of whatever its cause.</summary>
    public void InPlace()
    {
        lock (_sync)
        {
            _warnedFor = null;
        }
    }
}
