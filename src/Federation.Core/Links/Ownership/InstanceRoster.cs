namespace Federation.Core.Links.Ownership;

/// <summary>
/// The instances of one federation (cluster) that this engine has heard from lately, learned from their heartbeats on the
/// downstream broker (see <see cref="InstancePresence"/>). An instance is live while it was heard within
/// <see cref="OwnershipTimings.LiveFor"/>, and settled once it has been live without a gap for
/// <see cref="OwnershipTimings.SettleAfter"/>: placement counts every live instance, but links are handed over only to
/// settled ones, so that an instance whose heartbeat flaps does not pull links back and forth.
/// </summary>
/// <remarks>Not thread-safe: <see cref="LinkOwnership"/> guards it with its lock.</remarks>
internal sealed class InstanceRoster
{
    /// <summary>How many instances that went silent are remembered (the oldest go first): names of the form machine:pid are new at every start.</summary>
    internal const int SilentKept = 256;

    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);

    // Instances that were live and fell silent without saying they leave (paused, cut off, killed while their connection
    // lingers), with when they were last heard and the links their last heartbeat said they held (their leases may still
    // be theirs: a paused holder's connection lingers); forgotten when heard again or when they say they leave.
    private readonly Dictionary<string, (DateTimeOffset LastHeard, IReadOnlySet<string>? Holding)> _silent = new(StringComparer.Ordinal);

    // Instances forgotten while this instance could not confirm their silence: it had not heard its own heartbeat come
    // back for a whole presence timeout after their last one (its downstream connection frozen or half-open, a partition),
    // so they may well be running. Placement has forgotten them; only the decisions to delete what they may need (an
    // upstream queue at a stop) still count them, until this instance hears itself again long enough after their last
    // heartbeat, or hears them. A black-box run (7 Dec 2026): a SIGTERM 8 s into a frozen downstream connection deleted the
    // upstream queues of the links it held under the hosts waiting for them, 2,408 of 10,000 messages lost.
    private readonly Dictionary<string, Member> _unconfirmed = new(StringComparer.Ordinal);
    private readonly OwnershipTimings _timings;

    public InstanceRoster(OwnershipTimings timings) => _timings = timings;

    /// <summary>Records a heartbeat. Returns true when it changed who is live (a new instance, or a new incarnation).</summary>
    /// <param name="instance">The instance heard.</param>
    /// <param name="incarnation">Its run.</param>
    /// <param name="now">When.</param>
    /// <param name="waiting">The links it waits for (see <see cref="PresenceMessage.Waiting"/>); null when it does not say.</param>
    /// <param name="holding">The links it holds; null when it does not say.</param>
    /// <param name="standingBy">Its other links (see <see cref="PresenceMessage.StandingBy"/>); null when it does not say.</param>
    /// <param name="failing">The held links whose runs fail there (see <see cref="PresenceMessage.Failing"/>); null when it does not say.</param>
    /// <param name="upstreams">The hashed brokers of its upstreams (see <see cref="PresenceMessage.Upstreams"/>); null when it does not say.</param>
    public bool Heard(string instance, string incarnation, DateTimeOffset now, IReadOnlySet<string>? waiting = null, IReadOnlySet<string>? holding = null, IReadOnlySet<string>? standingBy = null, IReadOnlySet<string>? failing = null, IReadOnlyDictionary<string, IReadOnlySet<string>>? upstreams = null)
    {
        _silent.Remove(instance);
        _unconfirmed.Remove(instance);
        if (_members.TryGetValue(instance, out var member) && member.Incarnation == incarnation && now - member.LastHeard <= _timings.LiveFor)
        {
            member.LastHeard = now;
            member.Waiting = waiting;
            member.Holding = holding;
            member.StandingBy = standingBy;
            member.Failing = failing;
            member.Upstreams = upstreams;
            return false;
        }

        // New, restarted (another incarnation), or back after a gap: live again from now, and not settled yet.
        _members[instance] = new Member(incarnation, now, now) { Waiting = waiting, Holding = holding, StandingBy = standingBy, Failing = failing, Upstreams = upstreams };
        return true;
    }

    /// <summary>
    /// The live instances that have <paramref name="linkId"/> (see <see cref="HavingLink"/>) from a broker among
    /// <paramref name="brokers"/>: their upstream named by <paramref name="upstreamName"/> (hashed) reaches one of them, with
    /// the same kind of upstream queue where both tell it (<see cref="UpstreamFingerprints.Reaches"/>). An instance whose
    /// heartbeats do not say which brokers its upstreams reach (an older version) may have it from any.
    /// </summary>
    /// <param name="linkId">The link.</param>
    /// <param name="upstreamName">Its upstream's name, hashed.</param>
    /// <param name="brokers">The brokers the link's upstream reached here.</param>
    /// <param name="now">When.</param>
    /// <param name="unconfirmed">Whether instances forgotten without confirmed silence count too (see <see cref="HavingLinkOrUnconfirmed"/>).</param>
    public IReadOnlyList<string> HavingLinkFrom(string linkId, string upstreamName, IReadOnlySet<string> brokers, DateTimeOffset now, bool unconfirmed = false) =>
        [.. (unconfirmed ? HavingLinkOrUnconfirmed(linkId, now) : HavingLink(linkId, now)).Where(instance =>
            (_members.TryGetValue(instance, out var member) ? member : _unconfirmed[instance]).Upstreams is not { } upstreams
            || !upstreams.TryGetValue(upstreamName, out var reached)
            || UpstreamFingerprints.Reaches(reached, brokers))];

    /// <summary>
    /// <see cref="HavingLink"/>, and the instances forgotten while this instance could not confirm their silence whose last
    /// heartbeat had the link: for the decisions that would delete what they need (see <c>_unconfirmed</c>).
    /// </summary>
    public IReadOnlyList<string> HavingLinkOrUnconfirmed(string linkId, DateTimeOffset now) =>
        [.. HavingLink(linkId, now).Concat(_unconfirmed.Where(u => Has(u.Value, linkId)).Select(u => u.Key)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>
    /// This instance heard its own heartbeat come back at <paramref name="heard"/>: the instances forgotten without confirmed
    /// silence whose last heartbeat is a whole presence timeout older are gone indeed.
    /// </summary>
    public void HeardSelf(DateTimeOffset heard)
    {
        if (_unconfirmed.Count == 0)
        {
            return; // the usual case, once per own heartbeat under the ownership lock: nothing to build
        }

        foreach (var instance in _unconfirmed.Where(u => heard - u.Value.LastHeard > _timings.LiveFor).Select(u => u.Key).ToList())
        {
            _unconfirmed.Remove(instance);
        }
    }

    /// <summary>Whether any instance's last heartbeat said that some link it holds fails there.</summary>
    public bool AnyFailing() => _members.Values.Any(m => m.Failing is { Count: > 0 });

    /// <summary>
    /// Whether the live <paramref name="instance"/> said in its last heartbeat that it holds <paramref name="linkId"/> and
    /// that its runs fail there: the link then runs nowhere, though that instance holds it.
    /// </summary>
    public bool Fails(string instance, string linkId, DateTimeOffset now) =>
        _members.TryGetValue(instance, out var member) && now - member.LastHeard <= _timings.LiveFor
        && member.Holding?.Contains(linkId) == true && member.Failing?.Contains(linkId) == true;

    /// <summary>
    /// Whether <paramref name="instance"/> may run <paramref name="linkId"/>, as far as its last heartbeat says: it holds the
    /// link or waits for it, or its heartbeat does not say which links it has (an instance before that part of the heartbeat).
    /// An instance that has another configuration neither holds nor waits for the link, and is not worth standing by for.
    /// </summary>
    public bool MayRun(string instance, string linkId) =>
        _members.TryGetValue(instance, out var member) && MayRunAsSaid(member, linkId);

    private static bool MayRunAsSaid(Member member, string linkId) =>
        member.Waiting is null || member.Holding is null || member.Waiting.Contains(linkId) || member.Holding.Contains(linkId);

    // Has the link, as HavingLink counts: may run it, or stands by for it.
    private static bool Has(Member member, string linkId) => MayRunAsSaid(member, linkId) || member.StandingBy?.Contains(linkId) == true;

    /// <summary>
    /// The live instances that have <paramref name="linkId"/> as far as their last heartbeats say: they hold it, wait for it
    /// or stand by for it, or do not say which links they have (see <see cref="MayRun"/>). Unlike <see cref="MayRun"/>, an
    /// instance standing by counts: it takes the link over once the instance placement put it on lets it go.
    /// </summary>
    public IReadOnlyList<string> HavingLink(string linkId, DateTimeOffset now) =>
        [.. _members.Where(m => now - m.Value.LastHeard <= _timings.LiveFor && Has(m.Value, linkId))
            .Select(m => m.Key).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Whether <paramref name="instance"/> said in its last heartbeat that it waits for <paramref name="linkId"/> (or said
    /// nothing about links, as instances before that part of the heartbeat did).
    /// </summary>
    public bool Wants(string instance, string linkId) =>
        _members.TryGetValue(instance, out var member) && (member.Waiting is null || member.Waiting.Contains(linkId));

    /// <summary>
    /// The live instances whose last heartbeat says they hold <paramref name="linkId"/>'s lease. While this instance holds
    /// it too, that is two holders of one lease: their leases do not exclude each other (see <see cref="SharedHolding"/>).
    /// </summary>
    public IReadOnlyList<string> HoldersOf(string linkId, DateTimeOffset now) =>
        [.. _members.Where(m => now - m.Value.LastHeard <= _timings.LiveFor && m.Value.Holding?.Contains(linkId) == true).Select(m => m.Key).Order(StringComparer.Ordinal)];

    /// <summary>An instance said it leaves (a clean stop): it is no longer live, at once. Returns true when it was.</summary>
    public bool Left(string instance, string incarnation)
    {
        if (_unconfirmed.TryGetValue(instance, out var forgotten) && forgotten.Incarnation == incarnation)
        {
            _unconfirmed.Remove(instance);
        }

        if (!_members.TryGetValue(instance, out var member) || member.Incarnation != incarnation)
        {
            return false;
        }

        _silent.Remove(instance);
        return _members.Remove(instance);
    }

    /// <summary>Forgets instances not heard within <see cref="OwnershipTimings.LiveFor"/>. Returns true when any was live.</summary>
    /// <param name="now">When.</param>
    /// <param name="ownHeard">
    /// When this instance last heard its own heartbeat come back, or null when it never did (a downstream that does not
    /// echo): an instance forgotten without this one having heard itself a whole presence timeout after its last heartbeat
    /// is kept apart for the decisions that would delete what it needs (see <see cref="HavingLinkOrUnconfirmed"/>).
    /// </param>
    public bool Expire(DateTimeOffset now, DateTimeOffset? ownHeard = null)
    {
        var gone = _members.Where(m => now - m.Value.LastHeard > _timings.LiveFor).ToList();
        foreach (var (instance, member) in gone)
        {
            _members.Remove(instance);
            _silent[instance] = (member.LastHeard, member.Holding);
            if (ownHeard is { } heard && heard - member.LastHeard <= _timings.LiveFor)
            {
                _unconfirmed[instance] = member;
            }
        }

        while (_silent.Count > SilentKept)
        {
            _silent.Remove(_silent.MinBy(s => s.Value.LastHeard).Key);
        }

        while (_unconfirmed.Count > SilentKept)
        {
            _unconfirmed.Remove(_unconfirmed.MinBy(u => u.Value.LastHeard).Key);
        }

        return gone.Count > 0;
    }

    /// <summary>
    /// When <paramref name="instance"/> was last heard, if it was live and has been silent since for longer than
    /// <see cref="OwnershipTimings.LiveFor"/> without saying it leaves; null for a live instance, one that left, and one
    /// never heard (it may send no heartbeats at all).
    /// </summary>
    public DateTimeOffset? SilentSince(string instance, DateTimeOffset now)
    {
        if (_members.TryGetValue(instance, out var member))
        {
            return now - member.LastHeard > _timings.LiveFor ? member.LastHeard : null;
        }

        return _silent.TryGetValue(instance, out var silent) ? silent.LastHeard : null;
    }

    /// <summary>
    /// The instance that went silent (see <see cref="SilentSince"/>) whose last heartbeat said it held
    /// <paramref name="linkId"/>'s lease, with when it was last heard (the latest, should several have said so); null when
    /// none did, or when a live instance says it holds the link now. Its lease may still be its own (a paused holder's
    /// connection lingers until the broker gives it up), and then the link runs nowhere.
    /// </summary>
    public (string Instance, DateTimeOffset LastHeard)? SilentHolderOf(string linkId, DateTimeOffset now)
    {
        if (HoldersOf(linkId, now).Count > 0)
        {
            return null;
        }

        (string Instance, DateTimeOffset LastHeard)? found = null;
        foreach (var (instance, member) in _members)
        {
            if (now - member.LastHeard > _timings.LiveFor && member.Holding?.Contains(linkId) == true && (found is null || member.LastHeard > found.Value.LastHeard))
            {
                found = (instance, member.LastHeard);
            }
        }

        foreach (var (instance, silent) in _silent)
        {
            if (silent.Holding?.Contains(linkId) == true && (found is null || silent.LastHeard > found.Value.LastHeard))
            {
                found = (instance, silent.LastHeard);
            }
        }

        return found;
    }

    /// <summary>The live instances, by name.</summary>
    public IReadOnlyList<string> Live(DateTimeOffset now) =>
        [.. _members.Where(m => now - m.Value.LastHeard <= _timings.LiveFor).Select(m => m.Key).Order(StringComparer.Ordinal)];

    /// <summary>Whether <paramref name="instance"/> is live and has been without a gap for <see cref="OwnershipTimings.SettleAfter"/>.</summary>
    public bool IsSettled(string instance, DateTimeOffset now) =>
        _members.TryGetValue(instance, out var member) && now - member.LastHeard <= _timings.LiveFor && now - member.LiveSince >= _timings.SettleAfter;

    /// <summary>Whether the run <paramref name="incarnation"/> of some instance is in the roster (heard, and not gone since).</summary>
    public bool HasIncarnation(string incarnation) => _members.Values.Any(m => m.Incarnation == incarnation);

    /// <summary>The incarnation of a live <paramref name="instance"/>, or null.</summary>
    public string? IncarnationOf(string instance) => _members.TryGetValue(instance, out var member) ? member.Incarnation : null;

    /// <summary>The live instances that are not settled yet; when this set shrinks, links may be handed over.</summary>
    public int UnsettledCount(DateTimeOffset now) =>
        _members.Count(m => now - m.Value.LastHeard <= _timings.LiveFor && now - m.Value.LiveSince < _timings.SettleAfter);

    private sealed class Member(string incarnation, DateTimeOffset liveSince, DateTimeOffset lastHeard)
    {
        public string Incarnation { get; } = incarnation;

        public DateTimeOffset LiveSince { get; } = liveSince;

        public DateTimeOffset LastHeard { get; set; } = lastHeard;

        public IReadOnlySet<string>? Waiting { get; set; }

        public IReadOnlySet<string>? Holding { get; set; }

        public IReadOnlySet<string>? StandingBy { get; set; }

        public IReadOnlySet<string>? Failing { get; set; }

        public IReadOnlyDictionary<string, IReadOnlySet<string>>? Upstreams { get; set; }
    }
}
