namespace FederationHost.Tests.BadInput;

/// <summary>
/// The file-reload table: appsettings.json of a running host rewritten badly or deleted. The issue demands: a file that
/// cannot be read is refused and logged at warning naming it, and never becomes an empty configuration (not even when an
/// unrelated change triggers the next reload); the running links and upstream queues stay.
/// </summary>
public static class FileReloadCases
{
    private const string File = "appsettings.json";

    /// <summary>The running, good file: the same federation as <see cref="ReloadCases.Baseline"/>.</summary>
    public static SettingsDocument Good { get; } = SettingsDocument.Raw($$"""
        {
          "Host": { "Url": "http://127.0.0.1:0" },
          "Logging": { "LogLevel": { "Default": "Warning" } },
          "Federation": {
            "ClusterName": "{{ReloadCases.LocalBroker}}",
            "Downstream": { "uri": "memory://{{ReloadCases.LocalBroker}}/%2f" },
            "Upstreams": { "remote": { "uri": "memory://federator:{{ReloadCases.Secret}}@{{ReloadCases.RemoteBroker}}/%2f", "max-hops": 1, "reconnect-delay": 1 } },
            "UpstreamSets": { "primary": [ { "upstream": "remote" } ] },
            "Policies": { "fed": { "pattern": "^federated\\.", "apply-to": "exchanges", "definition": { "federation-upstream-set": "primary" } } }
          }
        }
        """);

    /// <summary>The good file plus a second upstream in the set: a good rewrite that adds one link.</summary>
    public static SettingsDocument WithSecondUpstream { get; } = Good
        .With("Federation:Upstreams:second", """{ "uri": "memory://second/%2f" }""")
        .With("Federation:UpstreamSets:primary", """[ { "upstream": "remote" }, { "upstream": "second" } ]""");

    public static IReadOnlyDictionary<string, FileReloadCase> All { get; } = Rows().ToDictionary(r => r.Name, StringComparer.Ordinal);

    public static TheoryData<string> Names => new(All.Keys);

    private static IEnumerable<FileReloadCase> Rows() =>
    [
        Row("invalid JSON (truncated)", Write(Good.Text[..(Good.Text.Length / 2)]), [File]),
        Row("not JSON at all", Write("Federation.Downstream.uri = memory://local/%2f\n"), [File]),
        Row("0-byte file", Write(""), [File]),
        Row("whitespace only", Write(" \n\t\n"), [File]),
        Row("duplicate key", Write(Good.Text.Replace("\"ClusterName\": \"local\",", "\"ClusterName\": \"local\", \"ClusterName\": \"other\",", StringComparison.Ordinal)), [File, "ClusterName"]),
        Row("nesting deeper than 64", Write(Good.Text.TrimEnd()[..^1] + ", \"Deep\": " + string.Concat(Enumerable.Repeat("{ \"a\": ", 70)) + "1" + new string('}', 70) + " }"), [File]),
        Row("an array at the root", Write("[ " + Good.Text + " ]"), [File]),
        Row("{} (a valid file without a downstream)", Write("{}"), ["Downstream:uri"]),
        Row("well-formed file with a bad value (max-hops 0)", Write(Good.With("Federation:Upstreams:remote:max-hops", "0").Text), ["Upstreams:remote:max-hops"]),
        new("file deleted", t => { System.IO.File.Delete(t.Settings); return Task.CompletedTask; }, [[File], ["Downstream:uri"]]),
        Row("invalid JSON, then an unrelated settings file appears", InvalidThenUnrelatedFile, [File]),
    ];

    private static FileReloadCase Row(string name, Func<FileReloadCase.Target, Task> damage, string[] expect) => new(name, damage, [expect]);

    private static Func<FileReloadCase.Target, Task> Write(string text) => t => WriteAtomicallyAsync(t.Settings, text);

    // The reported sequence: the provider silently emptied its data on invalid JSON, and the next unrelated change
    // (appsettings.{Environment}.json created) applied the empty configuration.
    private static async Task InvalidThenUnrelatedFile(FileReloadCase.Target target)
    {
        await WriteAtomicallyAsync(target.Settings, "{ \"Federation\": ");
        var deadline = DateTime.UtcNow + BadReloadAssertions.ReloadDeadline;
        while (!BadReloadAssertions.Warned(target.Host, [[File]]) && DateTime.UtcNow < deadline)
        {
            // Poll for the first reload's warning; without it (today) the sequence still goes on after the deadline.
            await Task.Delay(TimeSpan.FromMilliseconds(25));
        }

        await WriteAtomicallyAsync(target.Directory.File($"appsettings.{target.EnvironmentName}.json"), """{ "Unrelated": { "Setting": 1 } }""");
    }

    /// <summary>Replaces a file in one step (write aside, then rename), so the watcher never sees a half-written file.</summary>
    public static async Task WriteAtomicallyAsync(string path, string text)
    {
        var aside = path + ".writing";
        await System.IO.File.WriteAllTextAsync(aside, text);
        System.IO.File.Move(aside, path, overwrite: true);
    }
}
