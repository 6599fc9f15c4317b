namespace Federation.Core.Collectives;

/// <summary>
/// One federation broker instance: joins one member collective to one federation under a broker cluster name. Start
/// several instances with the same <see cref="ClusterName"/> (in one process or many) and they share the work through
/// queue groups. Configuration keys are the property names.
/// </summary>
public sealed class FederationBrokerOptions
{
    /// <summary>Default <see cref="SubjectPrefix"/>, Choria's.</summary>
    public const string DefaultSubjectPrefix = "choria.federation";

    /// <summary>Default <see cref="MaxHops"/>: a request and its reply take 2 broker passes, so 8 allows federations nested 4 deep.</summary>
    public const int DefaultMaxHops = 8;

    /// <summary>
    /// Default <see cref="MaxTargets"/>: five times the 200 targets per message that Choria's clients and
    /// <see cref="FederatedClientOptions.TargetsPerMessage"/> send.
    /// </summary>
    public const int DefaultMaxTargets = 1000;

    /// <summary>
    /// Default <see cref="TargetPattern"/>, the Ruby broker's whitelist plus service agents:
    /// <c>&lt;collective&gt;.broadcast.agent.&lt;x&gt;</c>, <c>&lt;collective&gt;.broadcast.service.&lt;x&gt;</c>, <c>&lt;collective&gt;.node.&lt;x&gt;</c>.
    /// </summary>
    public const string DefaultTargetPattern = @"^[^.]+\.(broadcast\.agent|broadcast\.service|node)\..+$";

    /// <summary>Default <see cref="ReplyPattern"/>: <c>&lt;x&gt;.reply.&lt;...&gt;</c>.</summary>
    public const string DefaultReplyPattern = @"^[^.]+\.reply\..+$";

    /// <summary>The broker cluster name clients address (Choria's <c>plugin.choria.federation.cluster</c>). One subject token.</summary>
    public string? ClusterName { get; set; }

    /// <summary>The federation's server URI (for example <c>nats://fed1:4222</c> or <c>memory://federation</c>); credentials allowed, never logged.</summary>
    public string? FederationUri { get; set; }

    /// <summary>The member collective's server URI.</summary>
    public string? CollectiveUri { get; set; }

    /// <summary>
    /// This instance's name, in the seen-by trail, the connection names and the metrics' instance tag; unique among the
    /// cluster's instances (another run under the same name is warned about, event 4014). Defaults to
    /// <c>&lt;machine&gt;-&lt;name&gt;-&lt;pid&gt;</c>, the name being the registration's (or the cluster's), with <c>-2</c>,
    /// <c>-3</c>... for further instances of that name in one process; a registered instance gets it when it starts, so
    /// options resolved without starting one (a configuration check) stay null here and take no name.
    /// </summary>
    public string? InstanceName { get; set; }

    /// <summary>
    /// The subject scheme: the broker subscribes to <c>&lt;prefix&gt;.&lt;cluster&gt;.federation</c> (queue group
    /// <c>&lt;cluster&gt;_federation</c>) and <c>&lt;prefix&gt;.&lt;cluster&gt;.collective</c> (queue group
    /// <c>&lt;cluster&gt;_collective</c>). Nothing under <c>&lt;prefix&gt;.&gt;</c> is ever accepted as a target or reply subject.
    /// </summary>
    public string SubjectPrefix { get; set; } = DefaultSubjectPrefix;

    /// <summary>
    /// A message that already passed this many brokers is dropped and counted as an error (error.type <c>hop_limit</c>), and so
    /// is one whose seen-by trail already holds twice this many entries (<c>Federation-Seen-By</c>: a loop through something
    /// that reset the hop count). With a Choria envelope, which has no hop count, the trail alone counts (a hop that repeats
    /// the one before it counts once unless this broker recorded it: a Choria client that caches its transport records its
    /// hop again at every batch).
    /// </summary>
    public int MaxHops { get; set; } = DefaultMaxHops;

    /// <summary>
    /// The most targets one request may list (repeated ones count). Every target gets a copy of the body, so without a limit
    /// one message of a few hundred kilobytes from any client or node on the federation would become gigabytes published
    /// into the collective. A request with more is dropped whole and counted as an error (error.type <c>too_many_targets</c>).
    /// </summary>
    public int MaxTargets { get; set; } = DefaultMaxTargets;

    /// <summary>Regular expression every request target must match (in addition to being a subject without wildcards outside the federation prefix).</summary>
    public string TargetPattern { get; set; } = DefaultTargetPattern;

    /// <summary>Regular expression every client reply subject must match.</summary>
    public string ReplyPattern { get; set; } = DefaultReplyPattern;

    /// <summary>
    /// The wire format of requests and replies: <see cref="FederationEnvelopeFormat.Native"/> (default) or Choria's transport
    /// JSON (<c>choria-v1</c>, <c>choria-v2</c>, <c>choria</c> for either), so Choria clients and nodes can use the cluster.
    /// </summary>
    public FederationEnvelopeFormat Envelope { get; set; } = FederationEnvelopeFormat.Native;

    /// <summary>
    /// The most <see cref="Workers"/> an instance may have. Each worker is a subscription per side, made before the instance
    /// serves; more instances, not more workers, is how a cluster scales past this.
    /// </summary>
    public const int MaxWorkers = 1024;

    /// <summary>
    /// Subscriptions per side in this instance (members of each queue group); each handles one message at a time. From 1 to
    /// <see cref="MaxWorkers"/>.
    /// </summary>
    public int Workers { get; set; } = 1;

    /// <summary>Values from configuration that could not be parsed, reported by validation.</summary>
    internal List<string> ConfigurationErrors { get; } = [];
}
