namespace Federation.Core.Links;

/// <summary>
/// What a link's stop did with its upstream objects, as event 1003 ("upstream objects {Cleanup}") tells it: a stop whose
/// cleanup failed or could not run must not say "deleted", since the operator then looks no further for a queue that
/// goes on filling.
/// </summary>
internal static class CleanupOutcome
{
    /// <summary>The cleanup was not asked for (a restart, a handover, <c>resource-cleanup-mode: never</c>).</summary>
    public const string Kept = "kept";

    /// <summary>The queue, its internal exchanges and its sentinel are gone.</summary>
    public const string Deleted = "deleted";

    /// <summary>The deletion failed; event 1007 before says why.</summary>
    public const string DeletionFailed = "kept (deleting them failed, see the warning before)";

    /// <summary>The upstream did not answer the consumer's teardown within the drain timeout, so the deletion was not tried.</summary>
    public const string UpstreamNotAnswering = "kept (the upstream did not answer within the drain timeout, so deleting them was not tried)";

    /// <summary>The deletion ran out of time; it may have gone through in part.</summary>
    public const string TimedOut = "possibly left on the upstream (deleting them did not finish within the drain timeout)";
}
