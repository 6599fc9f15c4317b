using System.Globalization;

namespace Federation.NatsBench;

/// <summary>
/// The command line that benchmarks/nats-bench.sh builds: the servers it started and the load. Every option is
/// <c>--name value</c>.
/// </summary>
internal sealed record BenchOptions
{
    public required string SingleUrl { get; init; }

    public required string HubUrl { get; init; }

    public required string LeafUrl { get; init; }

    public required int HubPort { get; init; }

    public required int LeafPort { get; init; }

    public required int LeafMonitorPort { get; init; }

    public required int HubMonitorPort { get; init; }

    public required string HubDomain { get; init; }

    public required string NodeDriver { get; init; }

    /// <summary>Messages per saturated run of the core paths (the acceptance load is 500,000).</summary>
    public int Messages { get; init; } = 100_000;

    /// <summary>At most this many messages in flight (the acceptance load: 10,000).</summary>
    public int Window { get; init; } = 10_000;

    public int Rounds { get; init; } = 3;

    public int Size { get; init; } = 256;

    /// <summary>The steady rate of the paced latency runs, msg/s.</summary>
    public int PacedRate { get; init; } = 5_000;

    public int PacedMessages { get; init; } = 10_000;

    /// <summary>Messages per run of the durable paths (JetStream in and out).</summary>
    public int DurableMessages { get; init; } = 50_000;

    /// <summary>Which parts to run: raw, core, durable.</summary>
    public IReadOnlySet<string> Parts { get; init; } = new HashSet<string>(["raw", "core", "durable"]);

    public const string Usage =
        "usage: Federation.NatsBench --single URL --hub URL --leaf URL --hub-port P --leaf-port P --hub-monitor-port P --leaf-monitor-port P " +
        "--hub-domain D --driver FILE [--messages N] [--window N] [--rounds N] [--size BYTES] [--paced-rate N] [--paced-messages N] " +
        "[--durable-messages N] [--parts raw,core,durable]";

    public static BenchOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected '--name value' at '{args[i]}'. {Usage}");
            }

            values[args[i][2..]] = args[i + 1];
        }

        string Text(string key) => values.Remove(key, out var v) ? v : throw new ArgumentException($"--{key} is required. {Usage}");
        int Number(string key, int? fallback)
        {
            if (!values.Remove(key, out var v))
            {
                return fallback ?? throw new ArgumentException($"--{key} is required. {Usage}");
            }

            return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n
                : throw new ArgumentException($"--{key} must be a positive whole number, not '{v}'.");
        }

        var defaults = new BenchOptions { SingleUrl = "", HubUrl = "", LeafUrl = "", HubPort = 0, LeafPort = 0, LeafMonitorPort = 0, HubMonitorPort = 0, HubDomain = "", NodeDriver = "" };
        var options = new BenchOptions
        {
            SingleUrl = Text("single"),
            HubUrl = Text("hub"),
            LeafUrl = Text("leaf"),
            HubPort = Number("hub-port", null),
            LeafPort = Number("leaf-port", null),
            HubMonitorPort = Number("hub-monitor-port", null),
            LeafMonitorPort = Number("leaf-monitor-port", null),
            HubDomain = Text("hub-domain"),
            NodeDriver = Text("driver"),
            Messages = Number("messages", defaults.Messages),
            Window = Number("window", defaults.Window),
            Rounds = Number("rounds", defaults.Rounds),
            Size = Number("size", defaults.Size),
            PacedRate = Number("paced-rate", defaults.PacedRate),
            PacedMessages = Number("paced-messages", defaults.PacedMessages),
            DurableMessages = Number("durable-messages", defaults.DurableMessages),
            Parts = values.Remove("parts", out var parts) ? parts.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet() : defaults.Parts,
        };
        if (values.Count != 0)
        {
            throw new ArgumentException($"unknown option --{values.Keys.First()}. {Usage}");
        }

        if (options.Parts.Except(["raw", "core", "durable"]).FirstOrDefault() is { } unknown)
        {
            throw new ArgumentException($"--parts: unknown part '{unknown}' (raw, core, durable).");
        }

        return options.Size < BenchPayload.MinimumSize
            ? throw new ArgumentException($"--size must be at least {BenchPayload.MinimumSize} bytes (the stamp, sequence and run id), not {options.Size}.")
            : options;
    }

    /// <summary>Fills the placeholders of a URI template given in the environment: {hub-port}, {leaf-port}, {hub-monitor-port}, {leaf-monitor-port}.</summary>
    public string Expand(string template) => template
        .Replace("{hub-port}", HubPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{leaf-port}", LeafPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{hub-monitor-port}", HubMonitorPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{leaf-monitor-port}", LeafMonitorPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
