using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// The "Two local nats-servers" recipe of examples/FederationHost/README.md, read from the README itself, so that the
/// black-box tests run what a reader would type: the two <c>nats-server</c> command lines and the appsettings.json of the
/// heredoc. The tests change only what a second machine would: ports (free ones instead of 14222/14223/18222/18223 and
/// 15694) and, for more than two servers, the server and upstream names. Any other change to the recipe that these
/// tests do not know about fails <see cref="Load"/> loudly, so the README and the tests cannot drift apart silently.
/// </summary>
internal sealed partial class NatsReadmeRecipe
{
    /// <summary>
    /// The ports and names the README's recipe uses. The ports lie below Linux's ephemeral range (32768-60999): a reader's
    /// run once failed with "address already in use" when the recipe used ports inside it.
    /// </summary>
    public const int UpstreamPort = 14222;
    public const int UpstreamMonitorPort = 18222;
    public const int DownstreamPort = 14223;
    public const int DownstreamMonitorPort = 18223;
    public const string UpstreamName = "nats-a";
    public const string DownstreamName = "nats-b";
    public const string User = "federator";
    public const string Password = "s3cret";
    public const string PolicyName = "orders";

    private const string Section = "### Two local nats-servers";

    private NatsReadmeRecipe(string[] upstreamServerArgs, string[] downstreamServerArgs, JsonObject appSettings, string hostCommand)
    {
        UpstreamServerArgs = upstreamServerArgs;
        DownstreamServerArgs = downstreamServerArgs;
        AppSettings = appSettings;
        HostCommand = hostCommand;
    }

    /// <summary>The upstream's <c>nats-server</c> arguments other than <c>-a</c>, <c>-p</c> and <c>-m</c> (the test picks those).</summary>
    public string[] UpstreamServerArgs { get; }

    /// <summary>The downstream's <c>nats-server</c> arguments other than <c>-a</c>, <c>-p</c> and <c>-m</c>.</summary>
    public string[] DownstreamServerArgs { get; }

    /// <summary>The heredoc's appsettings.json.</summary>
    public JsonObject AppSettings { get; }

    /// <summary>The line that starts the host.</summary>
    public string HostCommand { get; }

    /// <summary>Reads the recipe from the README above the test binaries and checks that it still has the expected shape.</summary>
    public static NatsReadmeRecipe Load()
    {
        var readme = File.ReadAllText(FindReadme());
        var start = readme.IndexOf(Section, StringComparison.Ordinal);
        Assert.True(start >= 0, $"examples/FederationHost/README.md has no '{Section}' section");
        var block = CodeBlockPattern().Match(readme, start);
        Assert.True(block.Success, $"'{Section}' has no ```bash block");
        var lines = block.Groups["body"].Value.Split('\n');

        var servers = lines.Where(l => l.StartsWith("nats-server ", StringComparison.Ordinal)).Select(ServerArgs).ToList();
        Assert.True(servers.Count == 2, $"the recipe should start two nats-servers; it has: {string.Join(" | ", servers.Select(s => string.Join(' ', s)))}");

        var heredocStart = Array.FindIndex(lines, l => l.Contains("appsettings.json <<'JSON'", StringComparison.Ordinal));
        var heredocEnd = Array.FindIndex(lines, heredocStart + 1, l => l.Trim() == "JSON");
        Assert.True(heredocStart >= 0 && heredocEnd > heredocStart, "the recipe should write appsettings.json with a <<'JSON' heredoc");
        var json = JsonNode.Parse(string.Join('\n', lines[(heredocStart + 1)..heredocEnd]))!.AsObject();

        var hostCommand = lines.Single(l => l.StartsWith("dotnet run --project examples/FederationHost", StringComparison.Ordinal)).Trim();
        var recipe = new NatsReadmeRecipe(servers[0].Args, servers[1].Args, json, hostCommand);
        recipe.CheckShape(servers[0], servers[1]);
        return recipe;
    }

    /// <summary>
    /// The recipe's appsettings.json for a host whose downstream is <paramref name="downstream"/> and whose only upstream is
    /// <paramref name="upstream"/>, listening on a free port. Only ports, names (and <paramref name="maxHops"/> when given)
    /// differ from the README's file.
    /// </summary>
    public string AppSettingsFor(NatsNode downstream, NatsNode upstream, int? maxHops = null)
    {
        var settings = AppSettings.DeepClone().AsObject();
        var host = settings["Host"]!.AsObject();
        host["Url"] = host["Url"]!.GetValue<string>().Replace(":15694", ":0", StringComparison.Ordinal);

        var federation = settings["Federation"]!.AsObject();
        var downstreamUri = federation["Downstream"]!["uri"]!.GetValue<string>();
        federation["Downstream"]!["uri"] = downstreamUri
            .Replace($"127.0.0.1:{Port(DownstreamPort)}", $"127.0.0.1:{Port(downstream.Server.Port)}", StringComparison.Ordinal)
            .Replace($"monitor-port={Port(DownstreamMonitorPort)}", $"monitor-port={Port(downstream.Server.MonitorPort)}", StringComparison.Ordinal)
            .Replace($"cluster-name={DownstreamName}", $"cluster-name={downstream.Name}", StringComparison.Ordinal);

        var upstreams = federation["Upstreams"]!.AsObject();
        var entry = upstreams[UpstreamName]!.DeepClone().AsObject();
        entry["uri"] = entry["uri"]!.GetValue<string>()
            .Replace($"127.0.0.1:{Port(UpstreamPort)}", $"127.0.0.1:{Port(upstream.Server.Port)}", StringComparison.Ordinal)
            .Replace($"cluster-name={UpstreamName}", $"cluster-name={upstream.Name}", StringComparison.Ordinal);
        if (maxHops is { } hops)
        {
            entry["max-hops"] = hops;
        }

        upstreams.Clear();
        upstreams[upstream.Name] = entry;
        federation["Policies"]![PolicyName]!["definition"]!["federation-upstream"] = upstream.Name;
        return settings.ToJsonString();
    }

    /// <summary>The downstream line's arguments with the server name replaced: how a further server of a ring is started.</summary>
    public string[] ServerArgsNamed(string name) =>
        [.. DownstreamServerArgs.Select(a => a == DownstreamName ? name : a)];

    private void CheckShape((string[] Args, int Port, int Monitor) upstreamLine, (string[] Args, int Port, int Monitor) downstreamLine)
    {
        var expectations = new (bool Holds, string What)[]
        {
            (upstreamLine.Port == UpstreamPort && upstreamLine.Monitor == UpstreamMonitorPort, $"the upstream listens on {UpstreamPort} and monitors on {UpstreamMonitorPort}"),
            (downstreamLine.Port == DownstreamPort && downstreamLine.Monitor == DownstreamMonitorPort, $"the downstream listens on {DownstreamPort} and monitors on {DownstreamMonitorPort}"),
            (UpstreamServerArgs.SequenceEqual(["-n", UpstreamName, "--user", User, "--pass", Password]), $"the upstream is '-n {UpstreamName} --user {User} --pass {Password}'"),
            (DownstreamServerArgs.SequenceEqual(["-n", DownstreamName]), $"the downstream is '-n {DownstreamName}'"),
            (HostCommand.StartsWith("dotnet run --project examples/FederationHost -- --contentRoot ", StringComparison.Ordinal), "the host is started with --contentRoot DIR"),
            (AppSettings["Host"]?["Url"]?.GetValue<string>() == "http://127.0.0.1:15694", "Host:Url is http://127.0.0.1:15694"),
            (AppSettings["Federation"]?["Upstreams"]?[UpstreamName]?["uri"]?.GetValue<string>() == $"nats://{User}:{Password}@127.0.0.1:{UpstreamPort}?cluster-name={UpstreamName}", "the upstream URI carries the credentials and the cluster name"),
            (AppSettings["Federation"]?["Downstream"]?["uri"]?.GetValue<string>() is { } down && down.StartsWith($"nats://127.0.0.1:{DownstreamPort}?monitor-port={DownstreamMonitorPort}&", StringComparison.Ordinal) && down.Contains($"cluster-name={DownstreamName}", StringComparison.Ordinal), "the downstream URI names the monitor port and the cluster name"),
            (AppSettings["Federation"]?["Policies"]?[PolicyName]?["definition"]?["federation-upstream"]?.GetValue<string>() == UpstreamName, $"policy '{PolicyName}' names upstream '{UpstreamName}'"),
        };
        var broken = expectations.Where(e => !e.Holds).Select(e => e.What).ToList();
        Assert.True(broken.Count == 0, "The README's nats:// recipe changed; update NatsReadmeRecipe (and the tests) to match. No longer true: " + string.Join("; ", broken));
    }

    private static (string[] Args, int Port, int Monitor) ServerArgs(string line)
    {
        // "nats-server -a 127.0.0.1 -p 14222 -m 18222 -n nats-a ... &   # comment"
        var command = line.Split('#')[0].Trim().TrimEnd('&').Trim();
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..];
        var rest = new List<string>();
        int port = 0, monitor = 0;
        for (var i = 0; i < words.Length; i++)
        {
            switch (words[i])
            {
                case "-a":
                    Assert.Equal("127.0.0.1", words[++i]);
                    break;
                case "-p":
                    port = int.Parse(words[++i], CultureInfo.InvariantCulture);
                    break;
                case "-m":
                    monitor = int.Parse(words[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    rest.Add(words[i]);
                    break;
            }
        }

        return ([.. rest], port, monitor);
    }

    private static string FindReadme()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "examples", "FederationHost", "README.md");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("examples/FederationHost/README.md not found above " + AppContext.BaseDirectory);
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"```bash\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlockPattern();
}
