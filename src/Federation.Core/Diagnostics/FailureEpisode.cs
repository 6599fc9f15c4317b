using Federation.Core.Transport;
namespace Federation.Core.Diagnostics;

/// <summary>
/// The consecutive failures of one thing that retries (a link, the downstream connection), so that a failure episode is
/// logged a few times instead of once per attempt: a warning when it starts, one summary while it lasts, and one line
/// when it ends. Every attempt's exception still goes to debug. Not thread-safe: its owner's single loop uses it.
/// </summary>
internal sealed class FailureEpisode
{
    /// <summary>The attempt at which the one summary of an episode is logged.</summary>
    public const int SummaryAtAttempt = 10;

    private bool _recoveryAnnounced;

    /// <summary>Failed attempts in the current episode; 0 when there is none.</summary>
    public int Failures { get; private set; }

    // The cause of the latest failed attempt, when the owner gives it (see Fail).
    private string? _lastCause;

    // Whether this episode began with a cause that differed from the one before a recovery (see Fail): it is not begun
    // anew that way again until the owner ends it, so that a thing that comes up and fails again and again, with causes
    // that alternate or whose text varies (a URI that refuses beside one that connects, a delivery tag in the message),
    // warns once, not at every attempt, and its failures still add up (the summary, a link's lease given up).
    private bool _begunByNewCause;

    /// <summary>Records a failed attempt and says which log line, if any, it deserves.</summary>
    /// <param name="cause">
    /// The attempt's cause as shown (<see cref="Describe"/>), or null. A failure right after an announced recovery is
    /// still the same episode (<see cref="Up"/>), unless its cause differs from the one before: then it is a new problem
    /// and starts a new episode, with its own warning. Before, it stayed quiet until the summary, minutes later with the
    /// backoff, so a message that failed the link at every attempt after a recovery showed in the status only. Only once
    /// until <see cref="End"/>: a failure with yet another cause after the next recovery stays in the episode begun so.
    /// </param>
    public FailureLogStep Fail(string? cause = null)
    {
        var previous = _lastCause;
        _lastCause = cause;
        if (_recoveryAnnounced && !_begunByNewCause && cause is not null && previous is not null && !string.Equals(cause, previous, StringComparison.Ordinal))
        {
            End();
            _lastCause = cause;
            _begunByNewCause = true;
        }

        Failures++;
        return Failures == 1 ? FailureLogStep.Started
            : Failures == SummaryAtAttempt ? FailureLogStep.Summary
            : FailureLogStep.Quiet;
    }

    /// <summary>
    /// Records that the thing is up again. Returns the number of failed attempts to announce, or 0 when there is nothing to
    /// announce (no failures, or the recovery of this episode was already announced). The episode itself lasts until
    /// <see cref="End"/>: something that fails again right after coming up is still the same problem.
    /// </summary>
    public int Up()
    {
        if (Failures == 0 || _recoveryAnnounced)
        {
            return 0;
        }

        _recoveryAnnounced = true;
        return Failures;
    }

    /// <summary>
    /// The cause of a failed attempt as status and logs show it: exception type and message. Transport exception messages
    /// name brokers by redacted URI only (a transport contract), so they are safe to show.
    /// </summary>
    public static string Describe(Exception exception) => $"{exception.GetType().Name}: {UriRedaction.RedactText(exception.Message)}";

    /// <summary>Closes the episode: the next failure starts a new one.</summary>
    public void End()
    {
        Failures = 0;
        _recoveryAnnounced = false;
        _lastCause = null;
        _begunByNewCause = false;
    }
}
