using Federation.Core.Links.Ownership;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Links;

/// <summary>
/// A link's lease on its downstream broker: while one engine holds it, another engine with the same configuration leaves
/// the link alone (it neither consumes from the upstream queue nor swaps the shared A/B internal exchanges) and waits.
/// The broker arbitrates (see <see cref="IBrokerLeases"/>); the lease lives on the downstream connection, so a holder
/// that dies or loses the downstream loses it, and a waiting engine takes it over at its next poll.
/// </summary>
/// <remarks>
/// One per link, owned by the link's run loop (not thread-safe). The lease outlives a failed run as long as its
/// connection does, so that an upstream outage does not hand the link to another engine and back.
/// </remarks>
internal sealed class LinkLease : IAsyncDisposable
{
    /// <summary>The first wait between polls of a lease that another engine holds.</summary>
    internal static readonly TimeSpan FirstPoll = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between polls: a dead holder's link is taken over within about this long after the broker drops its connection.</summary>
    internal static readonly TimeSpan LongestPoll = TimeSpan.FromSeconds(5);

    private readonly TimeProvider _time;
    private IBrokerLease? _held;
    private IBrokerConnection? _heldOn;

    public LinkLease(string name, string holder, TimeProvider time, LinkPlacementGate? gate = null)
    {
        Name = name;
        Holder = holder;
        _time = time;
        Gate = gate;
    }

    /// <summary>
    /// Where placement puts the link among the live instances (see <see cref="LinkOwnership"/>): whether to ask for the
    /// lease now, and when to hand it over. Null runs the link as before placement: whoever asks first holds it.
    /// </summary>
    public LinkPlacementGate? Gate { get; }

    /// <summary>Whether this engine holds the lease (as far as it knows).</summary>
    public bool Holding => _held is { IsHeld: true };

    /// <summary>
    /// Whether the downstream session the lease was last asked on has no leases (<see cref="IBrokerConnection.Leases"/>), so
    /// that the link runs there without one. A later session may have them again (NATS: the key-value bucket found this time),
    /// and another instance may hold the lease there.
    /// </summary>
    public bool DownstreamWithoutLeases { get; private set; }

    /// <summary>The lease's name on the downstream broker.</summary>
    public string Name { get; }

    /// <summary>This engine's identity, recorded with the lease while it holds it.</summary>
    public string Holder { get; }

    /// <summary>
    /// <c>federation: lease &lt;cluster&gt; &lt;exchange&gt; -&gt; &lt;upstream&gt;</c>, or with the link id in place of the
    /// names when that would exceed a queue name's 255 bytes. Every engine with the same configuration names the same link's
    /// lease alike, and different links never share one.
    /// </summary>
    public static string NameFor(LinkDefinition definition)
    {
        var name = $"federation: lease {definition.ClusterName} {definition.Exchange.Name} -> {definition.Upstream.UpstreamName}";
        // AMQP caps queue names, and so lease names, at 255 bytes.
        return BoundedNames.Fits(name) ? name : $"federation: lease {definition.Id}";
    }

    /// <summary>
    /// Waits until this engine holds the lease on the current downstream session, polling while another engine holds it
    /// (from <see cref="FirstPoll"/> up to <see cref="LongestPoll"/>, with jitter) and telling <paramref name="waiting"/>
    /// after each refusal. Returns the session and the lease, or a null lease when the downstream's transport has none.
    /// With a <see cref="Gate"/>, it asks only when placement says so (telling <paramref name="standingBy"/> why not
    /// meanwhile), wakes early when placement changes, and lets go of a lease it was asked to hand over.
    /// </summary>
    /// <exception cref="TransportException">The downstream refused the lease for another reason than another holder.</exception>
    /// <remarks>
    /// Only a session of <paramref name="definition"/>'s downstream (its cluster name and vhost) is taken: the supervisor
    /// publishes a new session before it stops the links it retires, and a link under the downstream's previous name (event
    /// 2027) whose retry took the new session ran from the new name's upstream queue (queue names come from the session)
    /// under its old lease, which does not exclude the new link's: two instances consumed that queue at once.
    /// </remarks>
    public async Task<(DownstreamSession Downstream, IBrokerLease? Lease)> HoldAsync(DownstreamHandle downstreamHandle, LinkDefinition definition, Action<LeaseAttempt> waiting, CancellationToken cancellationToken, Action<string>? standingBy = null)
    {
        var polls = new ReconnectBackoff(ReconnectBackoffMode.Exponential, FirstPoll, LongestPoll);
        polls.NextDelay(); // The schedule's first step is "at once", which is for failures; a poll always waits.
        while (true)
        {
            var downstream = await downstreamHandle.OpenSessionAsync(cancellationToken, session => session.ClusterName == definition.ClusterName && session.VirtualHost == definition.VirtualHost).ConfigureAwait(false);
            DownstreamWithoutLeases = downstream.Connection.Leases is null;
            if (_held is { } held && ReferenceEquals(_heldOn, downstream.Connection) && held.IsHeld && Gate?.HandoverRequested != true)
            {
                return (downstream, held);
            }

            await ReleaseAsync().ConfigureAwait(false);
            if (downstream.Connection.Leases is not { } leases)
            {
                return (downstream, null);
            }

            if (Gate is { } gate && !gate.MayTry(out var reason))
            {
                standingBy?.Invoke(reason!);
                await gate.StandbyAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            var attempt = await leases.TryAcquireAsync(new LeaseRequest(Name, Holder), cancellationToken).ConfigureAwait(false);
            if (attempt.Lease is { } lease)
            {
                _held = lease;
                _heldOn = downstream.Connection;
                Gate?.Acquired();
                return (downstream, lease);
            }

            Gate?.Refused();
            waiting(attempt);
            if (Gate is { } polling)
            {
                // The instance placement prefers asks every FirstPoll: the holder is handing the link over (or gone), and
                // a growing backoff would only stretch the gap between the release and the take.
                var delay = polls.NextDelay();
                await polling.PollAfterAsync(polling.Preferred == polling.Instance && delay > FirstPoll ? FirstPoll : delay, _time, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await Task.Delay(polls.NextDelay(), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Asks once, on the live downstream session, for the lease of a link that stops for good without it (it was lost
    /// moments before the stop), so that its upstream objects may still be deleted: a held lease is released with
    /// <see cref="ReleaseForGoodAsync"/>. Returns null when this engine now holds it (or that session has no leases), else
    /// why not: who holds it, or that the downstream is not connected. Never waits for a session: the supervisor that
    /// would publish the next one is the one waiting for this stop.
    /// </summary>
    public async Task<string?> TryTakeForCleanupAsync(DownstreamHandle downstreamHandle, LinkDefinition definition, CancellationToken cancellationToken)
    {
        if (downstreamHandle.Current is not { IsCompletedSuccessfully: true } current
            || current.Result is not { } downstream
            || downstream.Connection.Completion.IsCompleted
            || downstream.ClusterName != definition.ClusterName
            || downstream.VirtualHost != definition.VirtualHost)
        {
            return "the downstream where it lives is not connected";
        }

        await ReleaseAsync().ConfigureAwait(false);
        if (downstream.Connection.Leases is not { } leases)
        {
            DownstreamWithoutLeases = true;
            return null;
        }

        var attempt = await leases.TryAcquireAsync(new LeaseRequest(Name, Holder), cancellationToken).ConfigureAwait(false);
        if (attempt.Lease is not { } lease)
        {
            return attempt.Holder is { } holder ? $"'{holder}' holds it" : "another connection holds it";
        }

        _held = lease;
        _heldOn = downstream.Connection;
        if (cancellationToken.IsCancellationRequested)
        {
            // Taken only after the stop's limit ran out: the stop may have released what it found held already, and a lease
            // kept now would hold every other instance off the link until this connection closes.
            await ReleaseAsync().ConfigureAwait(false);
            return "it was taken only after the stop's time limit";
        }

        return null;
    }

    /// <summary>Lets go of the lease, if held, so that a waiting engine can take it.</summary>
    public async Task ReleaseAsync()
    {
        var held = _held;
        _held = null;
        _heldOn = null;
        Gate?.Released();
        if (held is not null)
        {
            await held.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Lets go of the lease and leaves the placement: the link stopped for good.</summary>
    public async ValueTask DisposeAsync() => await ReleaseForGoodAsync(null).ConfigureAwait(false);

    /// <summary>
    /// Lets go of the lease and leaves the placement: the link stopped for good. With <paramref name="deadline"/> (an engine
    /// stop), the release is waited for only until the stop's deadline and goes on in the background after it; the placement
    /// is left either way.
    /// </summary>
    public async Task ReleaseForGoodAsync(StopDeadline? deadline)
    {
        var releasing = ReleaseAsync();
        if (deadline is null)
        {
            await releasing.ConfigureAwait(false);
        }
        else
        {
            await deadline.WaitAsync(releasing).ConfigureAwait(false);
        }

        Gate?.Dispose();
    }
}
