using Federation.Testing.Brokers;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// The reload table: each row changes the running configuration in one bad way. The baseline federates
/// <c>federated.orders</c> on the in-memory broker <c>local</c> from <c>remote</c> through the set <c>primary</c> and the
/// policy <c>fed</c>. The issue demands for every row: refused, logged at warning naming the key, running configuration
/// kept, upstream queue kept. (A reference typo may alternatively be accepted with a warning, but it must never delete
/// upstream objects; these rows assert the refusal.)
/// </summary>
public static class ReloadCases
{
    public const string LocalBroker = "local";
    public const string RemoteBroker = "remote";
    public const string Secret = "r3load-S3cret-never-shown";

    private const string Downstream = "Federation:Downstream:uri";
    private const string Remote = "Federation:Upstreams:remote";
    private const string Element = "Federation:UpstreamSets:primary:0";
    private const string Policy = "Federation:Policies:fed";
    private const string Definition = Policy + ":definition";

    /// <summary>The running, good configuration.</summary>
    public static IReadOnlyDictionary<string, string?> Baseline { get; } = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
    {
        ["Host:Url"] = "http://127.0.0.1:0",
        ["Logging:LogLevel:Default"] = "Warning",
        ["Federation:ClusterName"] = LocalBroker,
        [Downstream] = $"memory://{LocalBroker}/%2f",
        [Remote + ":uri"] = $"memory://federator:{Secret}@{RemoteBroker}/%2f",
        [Remote + ":max-hops"] = "1",
        [Remote + ":reconnect-delay"] = "1",
        [Element + ":upstream"] = "remote",
        [Policy + ":pattern"] = @"^federated\.",
        [Policy + ":apply-to"] = "exchanges",
        [Definition + ":federation-upstream-set"] = "primary",
    };

    /// <summary>The baseline plus a second upstream in the set: a good reload that adds one link.</summary>
    public static IReadOnlyDictionary<string, string?> WithSecondUpstream { get; } = new Dictionary<string, string?>(Baseline, StringComparer.OrdinalIgnoreCase)
    {
        ["Federation:Upstreams:second:uri"] = "memory://second/%2f",
        ["Federation:UpstreamSets:primary:1:upstream"] = "second",
    };

    public static IReadOnlyDictionary<string, ReloadCase> All { get; } = Rows().ToDictionary(r => r.Name, StringComparer.Ordinal);

    public static TheoryData<string> Names => new(All.Keys);

    private static IEnumerable<ReloadCase> Rows() =>
    [
        // What destroyed federation before: a configuration without a downstream.
        Row("{} (every key removed)", s => s.Clear(), "Downstream:uri"),
        Row("Downstream section removed", Remove("Federation:Downstream"), "Downstream:uri"),
        Row("downstream uri empty", Set(Downstream, ""), "Downstream:uri"),
        Row("downstream unknown scheme", Set(Downstream, "foo://local/%2f"), "Downstream:uri"),

        // References that point at nothing.
        Row("policy names a missing upstream", Both(Remove(Definition), Set(Definition + ":federation-upstream", "remot")), "remot"),
        Row("policy names a missing set", Set(Definition + ":federation-upstream-set", "primry"), "primry"),
        Row("set element names a missing upstream", Set(Element + ":upstream", "remot"), "remot"),
        Row("upstream removed while the set names it", Remove(Remote), "UpstreamSets:primary", "remote"),
        Row("policy without definition", Remove(Definition), "Policies:fed:definition"),

        // Patterns.
        Row("pattern not a regular expression", Set(Policy + ":pattern", "^(federated"), "Policies:fed:pattern"),
        Row("pattern needs backtracking", Set(Policy + ":pattern", @"^(a+)+\1$"), "Policies:fed:pattern"),

        // Values.
        Row("reconnect-delay 0", Set(Remote + ":reconnect-delay", "0"), "Upstreams:remote:reconnect-delay"),
        Row("prefetch-count 0", Set(Remote + ":prefetch-count", "0"), "Upstreams:remote:prefetch-count"),
        Row("max-hops 0", Set(Remote + ":max-hops", "0"), "Upstreams:remote:max-hops"),
        Row("ack-mode sometimes", Set(Remote + ":ack-mode", "sometimes"), "Upstreams:remote:ack-mode"),
        Row("ClusterName empty", Set("Federation:ClusterName", ""), "ClusterName"),
        Row("set element exchange empty", Set(Element + ":exchange", ""), "UpstreamSets:primary:0:exchange"),

        // Unknown keys and URIs.
        Row("unknown key in Federation: Polices", Set("Federation:Polices:x:pattern", "^x"), "Polices"),
        Row("unknown key in an upstream: max-hop", Set(Remote + ":max-hop", "2"), "Upstreams:remote:max-hop"),
        Row("unknown scheme upstream", Set(Remote + ":uri", $"foo://federator:{Secret}@remote/%2f"), "Upstreams:remote:uri"),
        Row("AMQP TLS key on a plain amqp:// URI", Set(Remote + ":uri", $"amqp://federator:{Secret}@127.0.0.1:{FreePorts.Next()}/%2f?cacertfile=/etc/ssl/ca.pem"), "cacertfile"),
        Row("password with unencoded /", Set(Remote + ":uri", "amqp://federator:s3cretA1x/s3cretB2y@127.0.0.1:1/%2f"), ["Upstreams:remote:uri"], ["s3cretA1x", "s3cretB2y"]),
        Row("two upstreams share one upstream queue", Both(Set("Federation:Upstreams:twin:uri", $"memory://federator:{Secret}@{RemoteBroker}/%2f"), Set("Federation:UpstreamSets:primary:1:upstream", "twin")), "remote", "twin"),

        // A whole reload is refused: a good addition next to a bad value is not applied either.
        Row("good addition next to a bad value", Both(Set("Federation:Upstreams:second:uri", "memory://second/%2f"), Set("Federation:UpstreamSets:primary:1:upstream", "second"), Set("Federation:Upstreams:second:reconnect-delay", "0")), "Upstreams:second:reconnect-delay"),
    ];

    private static ReloadCase Row(string name, Action<Dictionary<string, string?>> change, params string[] expect) => new(name, change, expect, []);

    private static ReloadCase Row(string name, Action<Dictionary<string, string?>> change, string[] expect, string[] secrets) => new(name, change, expect, secrets);

    private static Action<Dictionary<string, string?>> Set(string key, string value) => s => s[key] = value;

    // Removes the key and everything under it.
    private static Action<Dictionary<string, string?>> Remove(string key) => s =>
    {
        foreach (var existing in s.Keys.Where(k => k.Equals(key, StringComparison.OrdinalIgnoreCase) || k.StartsWith(key + ":", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            s.Remove(existing);
        }
    };

    private static Action<Dictionary<string, string?>> Both(params Action<Dictionary<string, string?>>[] changes) => s =>
    {
        foreach (var change in changes)
        {
            change(s);
        }
    };
}
