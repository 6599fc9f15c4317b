using static FederationHost.Tests.BadInput.SettingsDocument;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// The start-up table: each row is one operator mistake or hostile value in appsettings.json (or on the command line) and
/// what the host must do with it. Paths in <see cref="StartupCase.Expect"/> are spelled as the errors spell them (relative
/// to the <c>Federation</c> section for federation keys, with <c>Host:</c> for the host's own).
/// </summary>
public static class StartupCases
{
    private const string Origin = "Federation:Upstreams:origin";
    private const string Element = "Federation:UpstreamSets:primary:0";
    private const string Policy = "Federation:Policies:federate";
    private const string Definition = Policy + ":definition";
    private const string AllUpstreams = """{ "federation-upstream-set": "all" }""";
    private const string AmqpOrigin = "amqp://federator:" + PlantedSecret + "@127.0.0.1:" + ClosedPortToken + "/%2f";
    private const string NatsOrigin = "nats://federator:" + PlantedSecret + "@127.0.0.1:" + ClosedPortToken;
    private const string Hidden1 = "s3cretA1x";
    private const string Hidden2 = "s3cretB2y";

    private static readonly SettingsDocument G = Good;

    /// <summary>Every row, by name.</summary>
    public static IReadOnlyDictionary<string, StartupCase> All { get; } = Rows().ToDictionary(r => r.Name, StringComparer.Ordinal);

    /// <summary>The row names, one test case each.</summary>
    public static TheoryData<string> Names => new(All.Keys);

    private static IEnumerable<StartupCase> Rows() =>
    [
        // Files that cannot be read: named, never an empty configuration, never a crash.
        Refused("file: invalid JSON (truncated)", Raw(G.Text[..(G.Text.IndexOf(PlantedSecret, StringComparison.Ordinal) + 40)]), ["appsettings.json"]),
        Refused("file: not JSON at all", Raw("Federation.Downstream.uri = memory://local/%2f\n"), ["appsettings.json"]),
        Refused("file: empty (0 bytes)", Raw(""), ["appsettings.json"]),
        Refused("file: whitespace only", Raw(" \n\t\n"), ["appsettings.json"]),
        Refused("file: an array at the root", Raw("[ " + G.Text + " ]"), ["appsettings.json"]),
        Refused("file: duplicate key ClusterName", Raw(G.Text.Replace("\"ClusterName\": \"local\",", "\"ClusterName\": \"local\", \"ClusterName\": \"other\",", StringComparison.Ordinal)), ["appsettings.json", "ClusterName"]),
        Refused("file: duplicate key uri in an upstream", Raw(G.Text.Replace("{ \"uri\": \"memory://federator:", "{ \"uri\": \"memory://origin/%2f\", \"uri\": \"memory://federator:", StringComparison.Ordinal)), ["appsettings.json", "Upstreams:origin:uri"]),
        Refused("file: nesting deeper than 64", Raw(Nested(G, depth: 70)), ["appsettings.json"]),
        Refused("file: {} (no downstream)", Raw("""{ "Host": { "Url": "http://127.0.0.1:0" } }"""), ["Downstream:uri"]),

        // Unknown keys, in every section.
        Refused("unknown key in Federation: Polices", G.With("Federation:Polices", """{ "x": { "pattern": "^x" } }"""), ["Polices"]),
        Refused("unknown key in Federation: ClusterNmae", G.WithString("Federation:ClusterNmae", "other"), ["ClusterNmae"]),
        Refused("unknown key in Host: Ulr", G.WithString("Host:Ulr", "http://127.0.0.1:0"), ["Host:Ulr"]),
        Refused("unknown key in Host: AllowRemotes", G.With("Host:AllowRemotes", "false"), ["Host:AllowRemotes"]),
        Refused("unknown key in Host on the command line", G, ["Host:Ulr"], args: ["--Host:Ulr=http://127.0.0.1:0"]),
        Refused("unknown key in Downstream: url", G.WithString("Federation:Downstream:url", "memory://local/%2f"), ["Downstream:url"]),
        Refused("unknown key in an upstream: max-hop", G.With(Origin + ":max-hop", "2"), ["Upstreams:origin:max-hop"]),
        Refused("unknown key in a set element: exchang", G.WithString(Element + ":exchang", "orders"), ["UpstreamSets:primary:0:exchang"]),
        Refused("unknown key in a policy: patern", G.WithString(Policy + ":patern", "^orders"), ["Policies:federate:patern"]),
        Refused("unknown key in a policy definition", G.WithString(Definition + ":federation-upstream-sett", "primary"), ["Policies:federate:definition:federation-upstream-sett"]),

        // Wrong shapes: an array where an object belongs, an object where a string belongs, an empty name.
        Refused("shape: Upstreams as an array", G.With("Federation:Upstreams", $$"""[ { "uri": "memory://federator:{{PlantedSecret}}@origin/%2f" } ]""").Without("Federation:UpstreamSets").With(Definition, AllUpstreams), ["Upstreams"]),
        Refused("shape: ClusterName as an object", G.With("Federation:ClusterName", """{ "name": "local" }"""), ["ClusterName"]),
        Refused("shape: ClusterName empty", G.WithString("Federation:ClusterName", ""), ["ClusterName"]),
        Refused("shape: set element exchange empty", G.WithString(Element + ":exchange", ""), ["UpstreamSets:primary:0:exchange"]),
        Refused("shape: upstream exchange empty", G.WithString(Origin + ":exchange", ""), ["Upstreams:origin:exchange"]),
        Refused("shape: Downstream as a string", G.WithString("Federation:Downstream", "memory://local/%2f"), ["Downstream"]),
        Refused("shape: Policies as a string", G.WithString("Federation:Policies", "federate"), ["Policies"]),
        Refused("shape: upstream uri as an object", G.With(Origin + ":uri", """{ "host": "origin" }"""), ["Upstreams:origin:uri"]),
        Refused("shape: a set as an object", G.With("Federation:UpstreamSets:primary", """{ "upstream": "origin" }"""), ["UpstreamSets:primary"]),

        // Missing values and references that point at nothing.
        Refused("missing: no Downstream section", G.Without("Federation:Downstream"), ["Downstream:uri"]),
        Refused("missing: downstream uri empty", G.WithString("Federation:Downstream:uri", ""), ["Downstream:uri"]),
        Refused("missing: upstream without uri", G.Without(Origin + ":uri"), ["Upstreams:origin:uri"]),
        Refused("missing: set element without upstream", G.Without(Element + ":upstream"), ["UpstreamSets:primary:0:upstream"]),
        Refused("missing: policy without definition", G.Without(Definition), ["Policies:federate:definition"]),
        Refused("reference: policy names a missing upstream", G.With(Definition, """{ "federation-upstream": "orign" }"""), ["Policies:federate", "orign"]),
        Refused("reference: policy names a missing set", G.With(Definition, """{ "federation-upstream-set": "primry" }"""), ["Policies:federate", "primry"]),
        Refused("reference: set element names a missing upstream", G.WithString(Element + ":upstream", "orign"), ["UpstreamSets:primary", "orign"]),
        Refused("duplicate: two upstreams share one upstream queue", G.With("Federation:Upstreams:twin", $$"""{ "uri": "memory://federator:{{PlantedSecret}}@origin/%2f" }""").With(Definition, AllUpstreams), ["origin", "twin"]),

        // Patterns: invalid, or needing backtracking (which would time out and silently not match).
        Refused("pattern: not a regular expression", G.WithString(Policy + ":pattern", "^(federated"), ["Policies:federate:pattern"]),
        Refused("pattern: backreference", G.WithString(Policy + ":pattern", @"^(a+)+\1$"), ["Policies:federate:pattern"]),
        Refused("pattern: lookahead", G.WithString(Policy + ":pattern", "^(?=federated)fed"), ["Policies:federate:pattern"]),
        Refused("pattern: lookbehind", G.WithString(Policy + ":pattern", @"(?<!x)federated\."), ["Policies:federate:pattern"]),
        Refused("policy: apply-to unknown", G.WithString(Policy + ":apply-to", "exchange"), ["Policies:federate:apply-to"]),
        Refused("policy: priority not a number", G.WithString(Policy + ":priority", "high"), ["Policies:federate:priority"]),

        // Values out of range or of the wrong type.
        Refused("value: reconnect-delay 0", G.With(Origin + ":reconnect-delay", "0"), ["Upstreams:origin:reconnect-delay"]),
        Refused("value: reconnect-delay -1", G.With(Origin + ":reconnect-delay", "-1"), ["Upstreams:origin:reconnect-delay"]),
        Refused("value: reconnect-delay abc", G.WithString(Origin + ":reconnect-delay", "abc"), ["Upstreams:origin:reconnect-delay"]),
        Refused("value: reconnect-delay 0 in a set element", G.With(Element + ":reconnect-delay", "0"), ["UpstreamSets:primary:0:reconnect-delay"]),
        Refused("value: prefetch-count 0", G.With(Origin + ":prefetch-count", "0"), ["Upstreams:origin:prefetch-count"]),
        Refused("value: prefetch-count -5", G.With(Origin + ":prefetch-count", "-5"), ["Upstreams:origin:prefetch-count"]),
        Refused("value: max-hops 0", G.With(Origin + ":max-hops", "0"), ["Upstreams:origin:max-hops"]),
        Refused("value: max-hops x", G.WithString(Origin + ":max-hops", "x"), ["Upstreams:origin:max-hops"]),
        Refused("value: ack-mode sometimes", G.WithString(Origin + ":ack-mode", "sometimes"), ["Upstreams:origin:ack-mode"]),

        // URIs: schemes no transport serves, and query keys no transport understands.
        Refused("uri: unknown scheme upstream", G.WithString(Origin + ":uri", $"foo://federator:{PlantedSecret}@127.0.0.1:{ClosedPortToken}/%2f"), ["Upstreams:origin:uri", "foo"]),
        Refused("uri: unknown scheme downstream", G.WithString("Federation:Downstream:uri", "foo://local/%2f"), ["Downstream:uri", "foo"]),
        Refused("uri: upstream not absolute", G.WithString(Origin + ":uri", "origin/%2f"), ["Upstreams:origin:uri"]),
        Refused("uri: AMQP TLS key cacertfile on amqp://", G.WithString(Origin + ":uri", AmqpOrigin + "?cacertfile=/etc/ssl/ca.pem"), ["Upstreams:origin:uri", "cacertfile"]),
        Refused("uri: AMQP query key verify", G.WithString(Origin + ":uri", AmqpOrigin + "?verify=verify_peer"), ["Upstreams:origin:uri", "verify"]),
        Refused("uri: AMQP query key foo", G.WithString(Origin + ":uri", AmqpOrigin + "?heartbeat=10&foo=bar"), ["Upstreams:origin:uri", "foo"]),
        Refused("uri: AMQP query key in the downstream", G.WithString("Federation:Downstream:uri", $"amqp://u:{PlantedSecret}@127.0.0.1:{ClosedPortToken}/%2f?conection_timeout=2000"), ["Downstream:uri", "conection_timeout"]),
        Refused("uri: NATS query key monitor_port", G.WithString(Origin + ":uri", NatsOrigin + "?monitor_port=8222"), ["Upstreams:origin:uri", "monitor_port"]),
        Refused("uri: NATS monitor-port abc", G.WithString(Origin + ":uri", NatsOrigin + "?monitor-port=abc"), ["Upstreams:origin:uri", "monitor-port"]),
        Refused("uri: NATS query key user", G.WithString(Origin + ":uri", $"nats://127.0.0.1:{ClosedPortToken}?user=bob"), ["Upstreams:origin:uri", "user"]),
        Refused("uri: NATS query key password", G.WithString(Origin + ":uri", $"nats://127.0.0.1:{ClosedPortToken}?user=bob&password={Hidden1}"), ["Upstreams:origin:uri", "password"], secrets: [Hidden1]),
        Refused("uri: NATS query key token", G.WithString(Origin + ":uri", $"nats://127.0.0.1:{ClosedPortToken}?token={Hidden1}"), ["Upstreams:origin:uri", "token"], secrets: [Hidden1]),

        // Passwords and tokens with reserved characters left unencoded: whatever the outcome, the secret never shows.
        Refused("secret: AMQP password with unencoded /", G.WithString(Origin + ":uri", $"amqp://federator:{Hidden1}/{Hidden2}@127.0.0.1:{ClosedPortToken}/%2f"), ["Upstreams:origin:uri"], secrets: [Hidden1, Hidden2]),
        Refused("secret: AMQP password with unencoded ?", G.WithString(Origin + ":uri", $"amqp://federator:{Hidden1}?{Hidden2}@127.0.0.1:{ClosedPortToken}/%2f"), ["Upstreams:origin:uri"], secrets: [Hidden1, Hidden2]),
        Refused("secret: AMQP password with unencoded #", G.WithString(Origin + ":uri", $"amqp://federator:{Hidden1}#{Hidden2}@127.0.0.1:{ClosedPortToken}/%2f"), ["Upstreams:origin:uri"], secrets: [Hidden1, Hidden2]),
        RefusedOrStarts("secret: AMQP password with unencoded @", G.WithString(Origin + ":uri", $"amqp://federator:{Hidden1}@{Hidden2}@127.0.0.1:{ClosedPortToken}/%2f"), ["Upstreams:origin:uri"], secrets: [Hidden1, Hidden2]),
        RefusedOrStarts("secret: AMQP password 1234/... that still parses", G.WithString(Origin + ":uri", $"amqp://federator:1234/{Hidden2}@127.0.0.1:{ClosedPortToken}/%2f"), ["Upstreams:origin:uri"], secrets: [Hidden2]),
        RefusedOrStarts("secret: NATS token with unencoded /", G.WithString(Origin + ":uri", $"nats://{Hidden1}/{Hidden2}@127.0.0.1:{ClosedPortToken}"), ["Upstreams:origin:uri"], secrets: [Hidden1, Hidden2]),
        Refused("secret: downstream password with unencoded /", G.WithString("Federation:Downstream:uri", $"amqp://u:{Hidden1}/{Hidden2}@127.0.0.1:{ClosedPortToken}/%2f"), ["Downstream:uri"], secrets: [Hidden1, Hidden2]),
        Refused("secret: second URI of an upstream with unencoded /", G.With(Origin + ":uri", $$"""[ "memory://origin/%2f", "amqp://federator:{{Hidden1}}/{{Hidden2}}@127.0.0.1:{{ClosedPortToken}}/%2f" ]"""), ["Upstreams:origin:uri"], secrets: [Hidden1, Hidden2]),

        // Host:Url and the other Host settings.
        Refused("host: Url with credentials", G.WithString("Host:Url", $"http://admin:{Hidden1}@127.0.0.1:0"), ["Host:Url"], secrets: [Hidden1]),
        Refused("host: Url not loopback (0.0.0.0)", G.WithString("Host:Url", "http://0.0.0.0:0"), ["Host:Url"]),
        Refused("host: Url https", G.WithString("Host:Url", "https://127.0.0.1:0"), ["Host:Url"]),
        Refused("host: Url with a host name", G.WithString("Host:Url", "http://example.org:0"), ["Host:Url"]),
        Refused("host: Url not a URL", G.WithString("Host:Url", "127.0.0.1 port 80"), ["Host:Url"]),
        Refused("host: Url with a path", G.WithString("Host:Url", "http://127.0.0.1:0/federation"), ["Host:Url"]),
        Refused("host: Url port out of range", G.WithString("Host:Url", "http://127.0.0.1:70000"), ["Host:Url"]),
        Refused("host: Url port already in use", G.WithString("Host:Url", $"http://127.0.0.1:{OccupiedPortToken}"), ["Host:Url"]),
        RefusedOrStarts("host: Url IPv4-mapped IPv6 loopback", G.WithString("Host:Url", $"http://[::ffff:127.0.0.1]:{FreePortToken}"), ["Host:Url"]),
        Refused("host: AllowRemote not a boolean", G.WithString("Host:AllowRemote", "yes"), ["Host:AllowRemote"]),
        Refused("host: CreateInMemoryBrokers not a boolean", G.WithString("Host:CreateInMemoryBrokers", "sometimes"), ["Host:CreateInMemoryBrokers"]),
    ];

    private static StartupCase Refused(string name, SettingsDocument settings, string[] expect, string[]? secrets = null, string[]? args = null) =>
        new(name, settings, StartupOutcome.Refused, expect, secrets ?? [], args ?? []);

    private static StartupCase RefusedOrStarts(string name, SettingsDocument settings, string[] expect, string[]? secrets = null, string[]? args = null) =>
        new(name, settings, StartupOutcome.RefusedOrStarts, expect, secrets ?? [], args ?? []);

    // The good document with an extra key whose value is nested depth objects deep (JSON providers stop at 64).
    private static string Nested(SettingsDocument document, int depth)
    {
        var open = string.Concat(Enumerable.Repeat("{ \"a\": ", depth));
        var close = new string('}', depth);
        var end = document.Text.LastIndexOf('}');
        return document.Text[..end] + ", \"Deep\": " + open + "1" + close + "\n}";
    }
}
