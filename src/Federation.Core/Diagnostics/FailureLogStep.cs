namespace Federation.Core.Diagnostics;

/// <summary>What a failed attempt should log, beyond its debug line.</summary>
internal enum FailureLogStep
{
    /// <summary>Nothing: the episode was already reported.</summary>
    Quiet,
    /// <summary>The first failure: a warning with the cause.</summary>
    Started,
    /// <summary>The episode's one summary: still failing after <see cref="FailureEpisode.SummaryAtAttempt"/> attempts.</summary>
    Summary,
}
