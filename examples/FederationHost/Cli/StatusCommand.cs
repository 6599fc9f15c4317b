using System.Globalization;
using System.Net;
using System.Text.Json;

namespace FederationHost.Cli;

/// <summary>
/// <c>status [--only-down] [--url URL]</c>: the links of a running host as <c>rabbitmqctl federation_status</c> lists
/// them, one tab-separated row per link under a header, missing values as empty fields and the timestamp as
/// <c>YYYY-MM-DD HH:MM:SS</c> (UTC), then the broker instances' table when the host runs any (a host with instances and no
/// link prints one line instead of an empty links table). While the host's downstream is not connected, or its health is degraded, one line on
/// stderr says why (from <c>GET /health</c>): links follow the downstream's exchanges, so a host that has never reached its downstream may
/// know of no link at all, and an empty table must not read as "nothing is down". Read-only: it only calls
/// <c>GET /federation/links</c>, <c>GET /federation/brokers</c> and <c>GET /health</c>.
/// </summary>
public static class StatusCommand
{
    /// <summary>The subcommand.</summary>
    public const string Name = "status";

    /// <summary>
    /// The columns, in the plugin's key names; <c>id</c> first, because <c>restart</c> takes it. <c>lease_holder</c>,
    /// <c>running_on</c> and <c>waiting</c> come last and are this host's own: who holds the link's lease as far as the broker
    /// told this host, which instance runs the link (this one, the holder, or where placement puts it), and why this host's
    /// link waits (status <c>waiting</c>).
    /// </summary>
    public static readonly IReadOnlyList<string> Columns =
        ["id", "upstream", "type", "exchange", "upstream_exchange", "vhost", "status", "local_connection", "uri", "timestamp", "error", "lease_holder", "running_on", "waiting"];

    /// <summary>The columns of the broker instances' table: the keys of <c>GET /federation/brokers</c>.</summary>
    public static readonly IReadOnlyList<string> BrokerColumns =
        ["name", "cluster", "instance", "state", "federation_uri", "collective_uri", "envelope", "workers", "requests_received", "replies_received", "published", "errors", "error", "cluster_problem"];

    private const string Usage = "usage: FederationHost status [--only-down] [--url http://127.0.0.1:15690]";

    /// <summary>Prints the link table of the host at <c>--url</c> (or at <c>Host:Url</c> of the host's appsettings.json).</summary>
    /// <returns>0 when the host answered, <see cref="HostCommands.Failure"/> when it cannot be reached or the arguments are wrong.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (!HostClient.TryCreate(args, out var client, out var rest, out var problem))
        {
            error.WriteLine($"{Name}: {TerminalText.Escape(problem!)}");
            return HostCommands.Failure;
        }

        using (client)
        {
            var onlyDown = rest.Remove("--only-down");
            if (rest.Count > 0)
            {
                error.WriteLine($"{Name}: unexpected argument '{TerminalText.Escape(rest[0])}'");
                error.WriteLine(Usage);
                return HostCommands.Failure;
            }

            var path = onlyDown ? "federation/links?only-down=true" : "federation/links";
            var answer = await client!.SendAsync(HttpMethod.Get, path, line => error.WriteLine($"{Name}: {TerminalText.Escape(line)}"), cancellationToken).ConfigureAwait(false);
            if (answer is not { } response)
            {
                return HostCommands.Failure;
            }

            if (response.Status != HttpStatusCode.OK || response.Body.ValueKind != JsonValueKind.Array)
            {
                error.WriteLine($"{Name}: {client.BaseAddress}{path} answered {(int)response.Status} {response.Status}, not a list of links; is this a federation host?");
                return HostCommands.Failure;
            }

            var brokers = await GetBrokersAsync(client, cancellationToken).ConfigureAwait(false);
            if (brokers.Count > 0 && response.Body.GetArrayLength() == 0 && (!onlyDown || await HasNoLinkAsync(client, cancellationToken).ConfigureAwait(false)))
            {
                // A host of broker instances (and no link) has no links table to show: an empty one read as a table lost.
                output.WriteLine($"No federation links on {client.BaseAddress}.");
            }
            else
            {
                output.WriteLine($"Listing federation links on {client.BaseAddress} ...");
                output.WriteLine(string.Join('\t', Columns));
                foreach (var link in response.Body.EnumerateArray())
                {
                    output.WriteLine(string.Join('\t', Row(link)));
                }
            }

            WriteBrokers(client, brokers, output);
            if (await HealthProblemAsync(client, cancellationToken).ConfigureAwait(false) is { } health)
            {
                // A host with broker instances and no link may run no exchange federation at all: it has no downstream to wait for.
                var none = health.Unhealthy && response.Body.GetArrayLength() == 0 && brokers.Count == 0
                    ? "; no link is known until the host reaches its downstream: links follow the downstream's exchanges"
                    : "";
                error.WriteLine($"{Name}: {TerminalText.Escape(Flatten(health.Description))}{none}");
            }

            return 0;
        }
    }

    /// <summary>The broker instances (from <c>GET /federation/brokers</c>); none for a host without, or one that does not list them.</summary>
    private static async Task<IReadOnlyList<JsonElement>> GetBrokersAsync(HostClient client, CancellationToken cancellationToken)
    {
        var answer = await client.SendAsync(HttpMethod.Get, "federation/brokers", _ => { }, cancellationToken).ConfigureAwait(false);
        return answer is { Status: HttpStatusCode.OK, Body: { ValueKind: JsonValueKind.Array } brokers } ? [.. brokers.EnumerateArray()] : [];
    }

    // With --only-down, an empty answer may be links that are all up: only the full list tells that there is none.
    private static async Task<bool> HasNoLinkAsync(HostClient client, CancellationToken cancellationToken)
    {
        var answer = await client.SendAsync(HttpMethod.Get, "federation/links", _ => { }, cancellationToken).ConfigureAwait(false);
        return answer is { Status: HttpStatusCode.OK, Body: { ValueKind: JsonValueKind.Array } links } && links.GetArrayLength() == 0;
    }

    /// <summary>
    /// The broker instances' table after the links', one tab-separated row per instance under its own header; nothing for a
    /// host without instances.
    /// </summary>
    private static void WriteBrokers(HostClient client, IReadOnlyList<JsonElement> brokers, TextWriter output)
    {
        if (brokers.Count == 0)
        {
            return;
        }

        output.WriteLine($"Listing federation broker instances on {client.BaseAddress} ...");
        output.WriteLine(string.Join('\t', BrokerColumns));
        foreach (var broker in brokers)
        {
            output.WriteLine(string.Join('\t', BrokerColumns.Select(column => Field(broker, column))));
        }
    }

    /// <summary>
    /// What <c>/health</c> says when the host is not healthy: unhealthy (503, its downstream is not connected) or degraded
    /// (links in error, a link that runs twice, the downstream blocking publishing: rows alone do not show all of these);
    /// null when healthy or when it does not say.
    /// </summary>
    private static async Task<(string Description, bool Unhealthy)?> HealthProblemAsync(HostClient client, CancellationToken cancellationToken)
    {
        // The table is printed already; a host that stops answering now has nothing to add to it.
        var health = await client.SendAsync(HttpMethod.Get, "health", _ => { }, cancellationToken).ConfigureAwait(false);
        if (health is not { } answer || answer.Body is not { ValueKind: JsonValueKind.Object } body
            || !body.TryGetProperty("description", out var description) || description.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        var unhealthy = answer.Status == HttpStatusCode.ServiceUnavailable;
        var degraded = body.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.String
            && string.Equals(status.GetString(), "Degraded", StringComparison.OrdinalIgnoreCase);
        return unhealthy || degraded ? (description.GetString()!, unhealthy) : null;
    }

    private static string Flatten(string text) => string.Join(' ', text.Split(['\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries));

    private static IEnumerable<string> Row(JsonElement link) =>
    [
        Field(link, "id"),
        Field(link, "upstream"),
        "exchange",
        Field(link, "exchange"),
        Field(link, "upstream_exchange"),
        Field(link, "vhost"),
        Field(link, "state"),
        Field(link, "local_connection"),
        Field(link, "uri"),
        Timestamp(Field(link, "since")),
        Field(link, "error"),
        Field(link, "lease_holder"),
        Field(link, "running_on"),
        Field(link, "waiting"),
    ];

    // As rabbitmqctl fills missing keys with "", an absent or null value is an empty field; tabs and line breaks in a
    // value (an error text) become spaces so that each link stays one row, and any other control character (an ESC in an
    // exchange name someone declared) is shown escaped rather than acted on by the operator's terminal.
    private static string Field(JsonElement link, string name) =>
        link.ValueKind == JsonValueKind.Object && link.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => TerminalText.Escape(Flatten(value.GetString()!)),
                JsonValueKind.Number => value.GetRawText(),
                _ => "",
            }
            : "";

    private static string Timestamp(string since) =>
        DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)
            : since;
}
