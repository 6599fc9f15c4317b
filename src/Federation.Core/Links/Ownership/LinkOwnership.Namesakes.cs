namespace Federation.Core.Links.Ownership;

/// <summary>
/// Other runs under this instance's own name (one configuration, with its Federation:InstanceName, copied to several
/// hosts): of all the live runs of one name, the one that started first acts, and the others stand aside, holding no
/// lease, until it is gone (see <see cref="NamesakeRuns.Preceding"/>).
/// </summary>
internal sealed partial class LinkOwnership
{
    private readonly NamesakeRuns _namesakes = new();

    // The earlier run of this instance's name that this one stands aside for (it runs no link meanwhile), or null.
    private NamesakeRuns.Run? _asideFor;

    /// <summary>The incarnation of the earlier run of this name that this one stands aside for, or null when this one acts.</summary>
    public string? StandingAsideFor
    {
        get
        {
            lock (_sync)
            {
                return _asideFor?.Incarnation;
            }
        }
    }

    /// <summary>
    /// What is wrong while another live run has this instance's name (whichever of the two acts), for health and status;
    /// null otherwise.
    /// </summary>
    public string? NamesakeConflict
    {
        get
        {
            lock (_sync)
            {
                if (_namesakes.Count == 0)
                {
                    return null;
                }

                return _asideFor is { } first
                    ? $"{StandingAsideText(first)} and runs the links; this run ({Incarnation}) stands aside and runs no link until that one stops. {NamesakeFix} (FederationOptions.InstanceName), or leave it unset (machine:pid)"
                    : $"{_namesakes.Count} other instance(s) announce themselves under this instance's name, Federation:InstanceName '{Instance}'; this run ({Incarnation}) started first and runs the links, the other(s) stand aside and run none. {NamesakeFix} (FederationOptions.InstanceName), or leave it unset (machine:pid)";
            }
        }
    }

    /// <summary>How many other runs of this instance's name are known (tests look).</summary>
    internal int NamesakesKept
    {
        get
        {
            lock (_sync)
            {
                return _namesakes.Count;
            }
        }
    }

    /// <summary>
    /// A heartbeat of another run under this instance's own name (<paramref name="incarnation"/> is not this one's). Decides
    /// which run acts under the name (see <see cref="NamesakeRuns.Preceding"/>); a run that stands aside lets go of every
    /// lease it holds, as at a handover (the upstream queues stay), and asks for none until that run is gone.
    /// </summary>
    /// <param name="incarnation">The other run.</param>
    /// <param name="started">When it started, as it says; null when it does not.</param>
    /// <param name="waiting">The links it waits for; null when its heartbeat does not say.</param>
    /// <param name="holding">The links it holds; null when its heartbeat does not say.</param>
    /// <param name="standingBy">Its other links; null when its heartbeat does not say.</param>
    /// <returns>What to log: a new run heard, or this run standing aside.</returns>
    public IReadOnlyList<NamesakeNotice> HeardNamesake(string incarnation, DateTimeOffset? started, IReadOnlySet<string>? waiting = null, IReadOnlySet<string>? holding = null, IReadOnlySet<string>? standingBy = null)
    {
        var links = waiting is null || holding is null ? null : waiting.Concat(holding).Concat(standingBy ?? new HashSet<string>()).ToHashSet(StringComparer.Ordinal);
        var notices = new List<NamesakeNotice>();
        List<Action>? actions;
        lock (_sync)
        {
            if (_namesakes.Heard(incarnation, started, _time.GetUtcNow(), links))
            {
                notices.Add(new NamesakeNotice(NamesakeNoticeKind.Heard, incarnation, started));
            }

            actions = DecideNamesakeUnderLock(notices);

            // A run that stands aside itself says so (event 1215), not that a later one does.
            if (_asideFor is not null)
            {
                notices.RemoveAll(n => n.Kind == NamesakeNoticeKind.Heard);
            }
        }

        Run(actions);
        return notices;
    }

    /// <summary>Another run of this instance's name said it leaves: if this one stood aside for it, it acts again at once.</summary>
    public IReadOnlyList<NamesakeNotice> LeftNamesake(string incarnation)
    {
        var notices = new List<NamesakeNotice>();
        List<Action>? actions = null;
        lock (_sync)
        {
            if (_namesakes.Left(incarnation))
            {
                actions = DecideNamesakeUnderLock(notices);
            }
        }

        Run(actions);
        return notices;
    }

    /// <summary>Forgets the runs of this instance's name that went silent (see <see cref="Tick"/>): one killed, say.</summary>
    public IReadOnlyList<NamesakeNotice> ExpireNamesakes()
    {
        var notices = new List<NamesakeNotice>();
        List<Action>? actions = null;
        lock (_sync)
        {
            if (_namesakes.Expire(_time.GetUtcNow() - Timings.LiveFor))
            {
                actions = DecideNamesakeUnderLock(notices);
            }
        }

        Run(actions);
        return notices;
    }

    /// <summary>
    /// Recomputes which run of this name this one stands aside for; when that changed, every link looks again: the held ones
    /// are handed over (this run stands aside) or the standing-by ones ask for their leases (it acts again).
    /// </summary>
    private List<Action>? DecideNamesakeUnderLock(List<NamesakeNotice> notices)
    {
        var previous = _asideFor;
        _asideFor = _namesakes.Preceding(Started, Incarnation);
        if (previous?.Incarnation == _asideFor?.Incarnation)
        {
            return null;
        }

        if (_asideFor is { } first)
        {
            notices.Add(new NamesakeNotice(NamesakeNoticeKind.StandingAside, first.Incarnation, first.Started));
        }
        else
        {
            notices.Add(new NamesakeNotice(NamesakeNoticeKind.Resumed, previous!.Incarnation, previous.Started));
        }

        return EvaluateUnderLock(placementChanged: true);
    }

    private const string NamesakeFix = "Give each instance its own Federation:InstanceName";

    /// <summary>The start of what health, status and a waiting link say while this run stands aside for <paramref name="first"/>.</summary>
    private string StandingAsideText(NamesakeRuns.Run first) =>
        $"Another instance runs under this instance's name: Federation:InstanceName '{Instance}' is also the name of run {first.Incarnation}{DescribeStart(first.Started)}, which started first";

    private static string DescribeStart(DateTimeOffset? started) =>
        started is { } at ? $" (started {at.UtcDateTime:yyyy-MM-dd HH:mm:ss.fff} UTC)" : " (a version that does not say when it started)";
}
