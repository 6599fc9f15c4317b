using System.Buffers;
using System.Text.Json;
using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Collectives;

/// <summary>
/// What the instances of one broker cluster learn from each other's announcements. Every instance announces itself
/// (name, run, a sequence number, its collective's URI without credentials) at the same moment on both of its servers,
/// on <c>&lt;prefix&gt;.&lt;cluster&gt;.instances</c>, and listens there on both. So:
/// <list type="bullet">
/// <item>a peer heard on the federation whose announcements stop reaching this instance on its collective serves another
/// collective (its <c>CollectiveUri</c> names another collective's server): it takes a share of the cluster's requests and
/// forwards them where the targets are not, so they go unanswered. Two announcements in a row heard on the federation and
/// missing on the collective make it a mismatch; one that arrives there again ends it. Whether two URIs name one
/// collective cannot be told from the URIs (two servers of one NATS cluster), but whether the announcements meet can;</item>
/// <item>a peer with this instance's name and another run is another process under the same <c>InstanceName</c>: their
/// seen-by hops, connection names and metrics cannot be told apart;</item>
/// <item>this instance's own announcement coming back twice on one of its connections means that the federation and the
/// collective are one message bus (a <c>FederationUri</c> naming the collective's server): it federates nothing and takes
/// replies from the queue group of the cluster's instances on that collective; those instances hear its announcements on
/// their collective but not on their federation, which tells them.</item>
/// </list>
/// Each problem is logged once per episode (Warning), its end once (Information), and <see cref="Problem"/> says what is
/// wrong now, for the health check. Thread-safe.
/// </summary>
internal sealed class ClusterRollCall(string cluster, string instance, string collectiveUri, string subject, ILogger logger, TimeProvider time)
{
    /// <summary>How often an instance announces itself.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    // A peer not heard on the federation for this many intervals stopped; its episodes end with it.
    private const int ForgetAfterIntervals = 3;

    // Two announcements heard on the federation and missing on the collective: one late copy is not enough.
    private const long MissedForMismatch = 2;

    // Longest field kept from an announcement: it comes from the wire.
    private const int MaxFieldLength = 256;

    /// <summary>
    /// Most other runs tracked at once. A cluster has a handful of instances; anything that can publish on the subject can
    /// announce made-up ones, and each tracked one costs memory, possibly a warning and a line in the health report.
    /// </summary>
    public const int MaxPeers = 100;

    // The health report names this many problems and counts the rest.
    private const int ProblemsDescribed = 5;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Peer> _peers = new(StringComparer.Ordinal);

    // Guarded by _gate: announcements of runs ignored because MaxPeers others were tracked, in this overflow episode (an
    // episode lasts while it is above zero).
    private long _ignored;
    // Guarded by _gate: the last own announcement heard back on each side, whether it came twice there, and whether the
    // two sides are one bus (an episode).
    private long _ownLastOnFederation;
    private long _ownLastOnCollective;
    private bool _ownRepeatedOnFederation;
    private bool _ownRepeatedOnCollective;
    private bool _sameBus;
    private readonly string _run = Guid.NewGuid().ToString("N");
    private long _sequence;
    private long _copiesHeard;

    /// <summary>The subject the instances of <paramref name="clusterName"/> announce themselves on, on both servers.</summary>
    public static string SubjectFor(string subjectPrefix, string clusterName) => $"{subjectPrefix}.{clusterName}.instances";

    /// <summary>This instance's run (incarnation), unique per process and start.</summary>
    public string Run => _run;

    /// <summary>Announcements of other runs handled so far, each copy counted on its side: lets tests wait for a round.</summary>
    internal long CopiesHeard => Interlocked.Read(ref _copiesHeard);

    /// <summary>What the announcements show to be wrong in the cluster now, or null.</summary>
    public string? Problem
    {
        get
        {
            lock (_gate)
            {
                var problems = _peers.Values.Where(p => p.Mismatched || p.OtherFederation || p.Namesake).ToList();
                var described = problems.Take(ProblemsDescribed).Select(Describe).ToList();
                if (_sameBus)
                {
                    described.Insert(0, $"The federation and the collective ({collectiveUri}) of instance '{instance}' are one message bus (FederationUri names the collective's server?): it federates nothing and takes replies of the cluster's instances on that collective.");
                }

                if (problems.Count > ProblemsDescribed)
                {
                    described.Add($"And {problems.Count - ProblemsDescribed} more instances with a problem.");
                }

                if (_ignored > 0)
                {
                    described.Add($"More than {MaxPeers} other instances announce themselves in cluster '{cluster}': {_ignored} announcement(s) of the others were ignored.");
                }

                return described.Count == 0 ? null : string.Join(" ", described);
            }
        }
    }

    /// <summary>The next announcement's body; publish the same body on both servers.</summary>
    /// <param name="collectiveServer">The collective server this instance is attached to now, for the others' logs.</param>
    public byte[] NextAnnouncement(string? collectiveServer)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("instance", instance);
            writer.WriteString("run", _run);
            writer.WriteNumber("seq", Interlocked.Increment(ref _sequence));
            writer.WriteString("collective", collectiveUri);
            writer.WriteString("server", collectiveServer ?? "-");
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>An announcement arrived on the federation (<paramref name="onFederation"/>) or on the collective.</summary>
    public void Heard(ReadOnlySpan<byte> body, bool onFederation)
    {
        if (Read(body) is not { } announcement)
        {
            return;
        }

        if (announcement.Run == _run)
        {
            HeardOwn(announcement.Sequence, onFederation);
            return;
        }

        lock (_gate)
        {
            if (!_peers.TryGetValue(announcement.Run, out var peer))
            {
                if (_peers.Count >= MaxPeers)
                {
                    if (_ignored++ == 0)
                    {
                        CollectiveLog.RollCallOverflow(logger, cluster, instance, MaxPeers, subject);
                    }

                    return;
                }

                // The baseline: what came before this instance listened was never going to arrive.
                peer = new Peer(announcement.Instance, announcement.Run)
                {
                    LastOnCollective = announcement.Sequence - 1, LastOnFederation = announcement.Sequence - 1, LastHeard = time.GetTimestamp(),
                };
                _peers[announcement.Run] = peer;
                if (string.Equals(announcement.Instance, instance, StringComparison.Ordinal))
                {
                    peer.Namesake = true;
                    CollectiveLog.InstanceNameShared(logger, cluster, instance, _run, announcement.Run);
                }
            }

            peer.Collective = announcement.Collective;
            peer.Server = announcement.Server;
            if (onFederation)
            {
                peer.LastOnFederation = Math.Max(peer.LastOnFederation, announcement.Sequence);
                peer.LastHeard = time.GetTimestamp();
            }
            else
            {
                peer.LastOnCollective = Math.Max(peer.LastOnCollective, announcement.Sequence);

                // A peer heard on the collective only (one attached to another federation) is still there.
                peer.LastHeard = time.GetTimestamp();
            }

            Evaluate(peer);
        }

        Interlocked.Increment(ref _copiesHeard);
    }

    /// <summary>
    /// Called once per interval: forgets peers not heard for a while (ending their episodes). While this instance is not
    /// connected on both sides it misses announcements on one of them, so every peer's baseline starts again.
    /// </summary>
    public void Tick(bool connected)
    {
        lock (_gate)
        {
            foreach (var peer in _peers.Values.ToList())
            {
                if (time.GetElapsedTime(peer.LastHeard) > Interval * ForgetAfterIntervals)
                {
                    _peers.Remove(peer.Run);
                    End(peer);
                    continue;
                }

                if (!connected)
                {
                    peer.LastOnCollective = peer.LastOnFederation = Math.Max(peer.LastOnCollective, peer.LastOnFederation);
                }
            }

            // The flood has stopped (or the cluster shrank): new runs are tracked again.
            if (_ignored > 0 && _peers.Count < MaxPeers)
            {
                CollectiveLog.RollCallOverflowEnded(logger, cluster, instance, MaxPeers, _ignored);
                _ignored = 0;
            }
        }
    }

    /// <summary>
    /// This instance's own announcement came back. It is published once on each connection, so each subscription gets one
    /// copy, unless both connections reach one bus, where each gets both. A sequence heard twice on one side starts the
    /// episode; a later one heard once there ends it.
    /// </summary>
    private void HeardOwn(long sequence, bool onFederation)
    {
        lock (_gate)
        {
            ref var last = ref onFederation ? ref _ownLastOnFederation : ref _ownLastOnCollective;
            ref var repeated = ref onFederation ? ref _ownRepeatedOnFederation : ref _ownRepeatedOnCollective;
            if (sequence == last)
            {
                repeated = true;
                if (!_sameBus)
                {
                    _sameBus = true;
                    CollectiveLog.SameBus(logger, cluster, instance, collectiveUri);
                }
            }
            else if (sequence > last)
            {
                if (_sameBus && last > 0 && !repeated)
                {
                    _sameBus = false;
                    CollectiveLog.SameBusEnded(logger, cluster, instance);
                }

                last = sequence;
                repeated = false;
            }
        }
    }

    private void Evaluate(Peer peer)
    {
        // Heard on this collective but not on this federation: the peer's FederationUri names another server, such as this
        // collective's, and it takes a share of this cluster's replies here and sends them where their clients are not.
        var otherFederation = peer.LastOnCollective - peer.LastOnFederation >= MissedForMismatch;
        if (otherFederation != peer.OtherFederation)
        {
            peer.OtherFederation = otherFederation;
            if (otherFederation)
            {
                CollectiveLog.FederationMismatch(logger, cluster, instance, peer.Instance, peer.Collective);
            }
            else
            {
                CollectiveLog.FederationMismatchEnded(logger, cluster, instance, peer.Instance);
            }
        }

        var mismatched = peer.LastOnFederation - peer.LastOnCollective >= MissedForMismatch;
        if (mismatched == peer.Mismatched)
        {
            return;
        }

        peer.Mismatched = mismatched;
        if (mismatched)
        {
            CollectiveLog.CollectiveMismatch(logger, cluster, instance, collectiveUri, peer.Instance, peer.Collective, peer.Server);
        }
        else
        {
            CollectiveLog.CollectiveMismatchEnded(logger, cluster, instance, peer.Instance, "its announcements reach this instance's collective again");
        }
    }

    private void End(Peer peer)
    {
        if (peer.OtherFederation)
        {
            CollectiveLog.FederationMismatchEnded(logger, cluster, instance, peer.Instance);
        }

        if (peer.Mismatched)
        {
            CollectiveLog.CollectiveMismatchEnded(logger, cluster, instance, peer.Instance, "it is no longer heard");
        }

        if (peer.Namesake)
        {
            CollectiveLog.InstanceNameSharedEnded(logger, cluster, instance, peer.Run);
        }
    }

    private string Describe(Peer peer) => peer.OtherFederation
        ? $"Instance '{peer.Instance}' of cluster '{cluster}' is heard on this instance's collective but not on its federation: it is attached to another federation (its FederationUri names another server, such as this collective's) and takes replies of this cluster here."
        : peer.Mismatched
        ? $"Instance '{peer.Instance}' of cluster '{cluster}' serves another collective ({peer.Collective}, server {peer.Server}) than this instance '{instance}' ({collectiveUri}): its requests go unanswered."
        : $"Another run ({peer.Run}) uses this instance's name '{instance}' in cluster '{cluster}'.";

    private static Announcement? Read(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 2 });
            string? name = null, run = null, collective = null, server = null;
            long? sequence = null;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var property = reader.GetString();
                if (!reader.Read())
                {
                    return null;
                }

                switch (property)
                {
                    case "instance" when reader.TokenType == JsonTokenType.String: name = Field(reader.GetString()); break;
                    case "run" when reader.TokenType == JsonTokenType.String: run = Field(reader.GetString()); break;
                    case "collective" when reader.TokenType == JsonTokenType.String: collective = Field(reader.GetString()); break;
                    case "server" when reader.TokenType == JsonTokenType.String: server = Field(reader.GetString()); break;
                    case "seq" when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n) && n > 0: sequence = n; break;
                    default: reader.Skip(); break;
                }
            }

            return name is null || run is null || sequence is null ? null : new Announcement(name, run, sequence.Value, collective ?? "?", server ?? "?");
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException)
        {
            // Not an announcement (anything can publish to the subject): ignored.
            return null;
        }
    }

    // Text from the wire goes into log lines and the health report: escaped and bounded.
    private static string? Field(string? value) => value is null ? null : PrintableText.Escape(value.Length > MaxFieldLength ? value[..MaxFieldLength] : value);

    private sealed record Announcement(string Instance, string Run, long Sequence, string Collective, string Server);

    private sealed class Peer(string name, string run)
    {
        public string Instance { get; } = name;

        public string Run { get; } = run;

        public string Collective { get; set; } = "?";

        public string Server { get; set; } = "?";

        public long LastOnFederation { get; set; }

        public long LastOnCollective { get; set; }

        public long LastHeard { get; set; }

        public bool Mismatched { get; set; }

        public bool OtherFederation { get; set; }

        public bool Namesake { get; set; }
    }
}
