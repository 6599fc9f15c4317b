namespace Federation.Core.Links;

/// <summary>A status entry for one exchange link. Never contains credentials.</summary>
/// <param name="Id">Stable link id: 8 hex characters derived from (cluster, vhost, exchange, upstream, upstream exchange); unchanged across restarts.</param>
/// <param name="Exchange">The federated (downstream) exchange.</param>
/// <param name="UpstreamExchange">The exchange the link consumes from on the upstream.</param>
/// <param name="Upstream">The upstream's name.</param>
/// <param name="VirtualHost">The downstream vhost.</param>
/// <param name="Uri">The upstream URI in use (or last tried), without credentials.</param>
/// <param name="State">The link state.</param>
/// <param name="Error">
/// Why the link is in <see cref="LinkState.Error"/>; while the downstream is not connected, why the downstream is not
/// (<c>The downstream broker is not connected: ...</c>), since no link can forward then whatever its state, followed by the
/// link's own last error when it has one; otherwise null.
/// </param>
/// <param name="LocalConnection">The name of the link's connection to its upstream while running (the downstream connection is shared by every link of the engine).</param>
/// <param name="Policy">The policy that federates the exchange.</param>
/// <param name="Since">When the state last changed.</param>
public sealed record LinkStatus(
    string Id,
    string Exchange,
    string UpstreamExchange,
    string Upstream,
    string VirtualHost,
    string Uri,
    LinkState State,
    string? Error,
    string? LocalConnection,
    string? Policy,
    DateTimeOffset Since)
{
    /// <summary>
    /// Messages this link dropped since it was created (a link that a reload replaces because its settings changed, keeping
    /// its id, goes on with the counts of the one it replaces), by reason: <c>max_hops</c> and <c>cycle</c> (the hop rules),
    /// <c>duplicate</c> (already forwarded, found in the duplicate-suppression window, acknowledged upstream), and
    /// losses such as <c>slow_consumer</c> (a client buffer was full) or <c>downstream_rejected</c> (the downstream refused a
    /// message that the upstream cannot take back, for example one over NATS <c>max_payload</c>), <c>too_large</c> or
    /// <c>unreadable</c> (a message the client library cannot read, such as a malformed NATS header block or an AMQP
    /// header RabbitMQ.Client cannot parse, or one whose properties cannot be mapped). Null when none.
    /// </summary>
    public IReadOnlyDictionary<string, long>? DroppedMessages { get; init; }

    /// <summary>
    /// The lease the link takes on the downstream broker before it touches the upstream, so that two engines with the same
    /// configuration never run it at once; null while the link has not asked yet, or when the downstream's transport has no
    /// leases (core NATS).
    /// </summary>
    public string? Lease { get; init; }

    /// <summary>
    /// Who holds <see cref="Lease"/>: this engine's instance name once it holds it; while <see cref="LinkState.Waiting"/>,
    /// the other engine's, or null when the broker does not tell or this engine stands by without asking (placement puts
    /// the link elsewhere: see <see cref="RunningOn"/>).
    /// </summary>
    public string? LeaseHolder { get; init; }

    /// <summary>The instance (engine) that reports this status: its configured <c>InstanceName</c>, or <c>machine:pid</c>.</summary>
    public string? Instance { get; init; }

    /// <summary>
    /// The instance that runs the link, as far as this one knows: <see cref="Instance"/> itself once it holds the lease (or
    /// runs the link without one); while <see cref="LinkState.Waiting"/>, the lease's holder if the broker tells it, else
    /// the instance whose heartbeats claim the link (the one placement puts it on, if that one does), or null when none
    /// does. Null before the link asked, after it stopped, and after it let its lease go.
    /// </summary>
    public string? RunningOn { get; init; }

    /// <summary>
    /// The other live instances whose heartbeats say they hold this link's lease while this instance holds it too, for
    /// longer than the presence timeout; null otherwise. A lease has one holder, so this means the instances keep their
    /// leases in different places (another <c>lease-bucket</c> or other lease settings on one downstream URI, or another
    /// configuration that names the link alike): the link runs on each, and every message crosses it once per holder. It
    /// makes the health check degraded, and clears when the others stop saying so.
    /// </summary>
    public IReadOnlyList<string>? AlsoHeldBy { get; init; }

    /// <summary>
    /// The live instances of <em>other</em> federations (other cluster names) on the same downstream that run a link
    /// copying the same messages into the same exchange (same downstream vhost and exchange, same upstream broker and
    /// exchange) while this instance runs this one, as <c>instance 'x' of federation 'y'</c>; null otherwise. Every message
    /// the link carries then arrives twice: usually one host has a typo in its cluster name. It makes the health check
    /// degraded, and clears when the other stops. Only instances whose downstream has leases tell each other (see the
    /// README, "Two federations that carry the same messages").
    /// </summary>
    public IReadOnlyList<string>? AlsoFederatedBy { get; init; }

    /// <summary>Why the link is <see cref="LinkState.Waiting"/>, in a sentence naming the lease and its holder; otherwise null.</summary>
    public string? Waiting { get; init; }
}
