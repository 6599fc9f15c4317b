using FederationHost.Cli;
using Microsoft.Extensions.Configuration;

namespace FederationHost.Tests;

/// <summary>
/// A mistake in the <c>FederationBrokers</c> section stops the start (exit code 2) and fails <c>validate</c>, every
/// problem at once, each naming its key (<c>FederationBrokers:&lt;name&gt;:&lt;key&gt;</c>), with credentials in URIs
/// never shown.
/// </summary>
public sealed class FederationBrokersValidationTests
{
    private const string Password = "br0ker-pa55-never-shown";

    private const string BadFile = $$"""
        {
          "Host": { "Url": "http://127.0.0.1:0" },
          "FederationBrokers": {
            "london": {
              "FederationUri": "nats://broker:{{Password}}@127.0.0.1:1?foo=1",
              "CollectiveUri": "tls://broker:{{Password}}@127.0.0.1:1",
              "Workers": "abc",
              "Envelope": "xml",
              "Envelop": "choria"
            },
            "tokyo": {
              "ClusterName": "tokyo.east",
              "FederationUri": "amqp://broker:{{Password}}@127.0.0.1:1/%2f",
              "CollectiveUri": "memory://tokyo",
              "MaxHops": { "value": 3 }
            },
            "paris-1": { "ClusterName": "paris", "InstanceName": "paris-a", "FederationUri": "memory://fed", "CollectiveUri": "memory://paris" },
            "paris-2": { "ClusterName": "paris", "InstanceName": "paris-a", "FederationUri": "memory://fed", "CollectiveUri": "memory://paris" }
          }
        }
        """;

    /// <summary>A part of the problem expected for each key (one problem per line names the key first).</summary>
    public static TheoryData<string, string> ExpectedProblems => new()
    {
        { "FederationBrokers:london:FederationUri", "Unknown query parameter 'foo'" },
        { "FederationBrokers:london:Workers", "'abc' is not an integer" },
        { "FederationBrokers:london:Envelope", "'xml' is not one of native, choria-v1, choria-v2, choria" },
        { "FederationBrokers:london:Envelop", "is not a federation broker setting" },
        { "FederationBrokers:tokyo:MaxHops", "must be a single value, not a section" },
        { "FederationBrokers:paris-2:InstanceName", "'paris-a' is also the instance name of FederationBrokers:paris-1 in the cluster 'paris'" },
    };

    [Fact]
    public void The_start_lists_every_broker_problem_naming_its_key_without_credentials()
    {
        var problems = BuildProblems(BadFile);

        // The shapes are reported first and stop the rest (a section where a value belongs would be read as a default).
        Assert.Contains(problems, p => p.StartsWith("FederationBrokers:tokyo:MaxHops must be a single value", StringComparison.Ordinal));
        Assert.All(problems, p => Assert.DoesNotContain(Password, p, StringComparison.Ordinal));
    }

    [Fact]
    public void Without_shape_mistakes_the_start_lists_every_problem_of_every_instance()
    {
        var problems = BuildProblems(BadFile.Replace("\"MaxHops\": { \"value\": 3 }", "\"MaxHops\": 3", StringComparison.Ordinal));

        foreach (var (key, problem) in ExpectedProblems.Select(row => ((string)row[0], (string)row[1])).Where(e => !e.Item1.EndsWith("MaxHops", StringComparison.Ordinal)))
        {
            Assert.Contains(problems, p => p.StartsWith(key + ":", StringComparison.Ordinal) && p.Contains(problem, StringComparison.Ordinal));
        }

        Assert.Contains(problems, p => p.StartsWith("FederationBrokers:tokyo:ClusterName: 'tokyo.east' must be one subject token", StringComparison.Ordinal));
        Assert.All(problems, p => Assert.DoesNotContain(Password, p, StringComparison.Ordinal));
    }

    [Fact]
    public void A_single_value_where_the_section_belongs_is_named()
    {
        var problems = BuildProblems("""{ "Host": { "Url": "http://127.0.0.1:0" }, "FederationBrokers": "nats://127.0.0.1:4222" }""");

        Assert.Contains(problems, p => p.StartsWith("FederationBrokers: 'nats://127.0.0.1:4222' is a single value", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Validate_lists_the_broker_problems_and_exits_2()
    {
        using var directory = new TemporaryDirectory("federation-brokers-validate-");
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, BadFile.Replace("\"MaxHops\": { \"value\": 3 }", "\"MaxHops\": 3", StringComparison.Ordinal));
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await HostCommands.RunAsync(["validate", file], output, error);

        var text = output.ToString();
        Assert.Equal(2, exit);
        Assert.Contains($"{file}: FederationBrokers:london:Workers: 'abc' is not an integer", text, StringComparison.Ordinal);
        Assert.Contains($"{file}: FederationBrokers:london:FederationUri:", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, text + error, StringComparison.Ordinal);
        // No downstream is demanded of a host that runs broker instances only.
        Assert.DoesNotContain("Downstream:uri", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_accepts_a_host_with_broker_instances_only_and_counts_them()
    {
        using var directory = new TemporaryDirectory("federation-brokers-validate-");
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, """
            { "FederationBrokers": {
                "london": { "FederationUri": "nats://broker:secret@127.0.0.1:4222", "CollectiveUri": "nats://127.0.0.1:4223", "Envelope": "choria" },
                "tokyo": { "FederationUri": "memory://fed", "CollectiveUri": "memory://tokyo", "Workers": 4 } } }
            """);
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = await HostCommands.RunAsync(["validate", file], output, error);

        Assert.True(exit == 0, output.ToString() + error);
        Assert.Equal($"{file}: valid: 2 federation broker instances", output.ToString().Trim());
    }

    [Fact]
    public async Task The_process_exits_2_with_one_line_per_problem_naming_the_key()
    {
        await using var host = HostProcess.Start(BadFile.Replace("\"MaxHops\": { \"value\": 3 }", "\"MaxHops\": 3", StringComparison.Ordinal));

        var exitCode = await host.WaitForExitAsync();

        Assert.True(exitCode == 2, $"exit code {exitCode}\n{host.Describe()}");
        var lines = host.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.StartsWith("FederationHost: ", l, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("FederationHost: FederationBrokers:london:Envelope: 'xml'", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("FederationHost: FederationBrokers:london:FederationUri:", StringComparison.Ordinal) && l.Contains("nats://", StringComparison.Ordinal));
        Assert.DoesNotContain(Password, host.StandardOutput + host.StandardError, StringComparison.Ordinal);
        Assert.Empty(HostProcess.StackTraceLines(host.StandardOutput + host.StandardError));
    }

    private static IReadOnlyList<string> BuildProblems(string json)
    {
        var error = Assert.Throws<HostConfigurationException>(() => FederationHostApp.Build([], configuration =>
        {
            configuration.Sources.Clear();
            configuration.AddJsonStream(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));
        }));
        return error.Problems;
    }
}
