using Federation.Core.Transport;
using FederationHost.Cli;

namespace FederationHost.Tests;

/// <summary>
/// What <c>validate</c> and <c>status</c> print for a host of broker instances (black-box run, 7 Dec 2026): an instance
/// whose federation and collective are one server passed <c>validate</c>; the summary read "0 upstream(s), 0 policy(ies),
/// 1 federation broker instance(s)"; <c>status</c> printed an empty links table above the instances.
/// </summary>
public sealed class FederationBrokersCommandOutputTests
{
    private const string Password = "same-pa55-never-shown";

    [Theory]
    [InlineData("nats://broker:" + Password + "@Fed.Example:4222", "nats://fed.example/")]
    [InlineData("memory://broker:" + Password + "@london", "memory://london")]
    public async Task Validate_refuses_an_instance_whose_federation_and_collective_are_one_server(string federation, string collective)
    {
        var (exit, output) = await ValidateAsync($$"""
            { "FederationBrokers": { "london": { "FederationUri": "{{federation}}", "CollectiveUri": "{{collective}}" } } }
            """);

        Assert.Equal(2, exit);
        Assert.Contains($": FederationBrokers:london:CollectiveUri: '{UriRedaction.Redact(collective)}' is the same server as FederationUri ('{UriRedaction.Redact(federation)}')", output, StringComparison.Ordinal);
        Assert.Contains("Set CollectiveUri to the member collective's server", output, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_refuses_instances_of_one_cluster_on_one_server_with_native_and_choria_envelopes()
    {
        // They share the cluster's queue groups: each drops as malformed the requests the other's clients wrote.
        var (exit, output) = await ValidateAsync("""
            { "FederationBrokers": {
                "london-a": { "ClusterName": "london", "FederationUri": "memory://fed", "CollectiveUri": "memory://london" },
                "london-b": { "ClusterName": "london", "FederationUri": "memory://fed", "CollectiveUri": "memory://london", "Envelope": "choria" },
                "paris": { "FederationUri": "memory://fed", "CollectiveUri": "memory://paris", "Envelope": "choria" } } }
            """);

        Assert.Equal(2, exit);
        var problem = Assert.Single(output.Split('\n'), l => l.Contains(":Envelope:", StringComparison.Ordinal));
        Assert.Contains("FederationBrokers:london-a:Envelope: 'native' differs from the 'choria' of FederationBrokers:london-b, an instance of the cluster 'london' on the same server", problem, StringComparison.Ordinal);
        Assert.Contains("give them one Envelope", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_names_only_what_is_configured_in_the_singular_when_there_is_one()
    {
        var (exit, output) = await ValidateAsync("""
            { "FederationBrokers": { "london": { "FederationUri": "memory://fed", "CollectiveUri": "memory://london" } } }
            """);

        Assert.Equal(0, exit);
        Assert.EndsWith(": valid: 1 federation broker instance", output.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_counts_upstreams_policies_and_instances_of_a_host_that_runs_both()
    {
        var (exit, output) = await ValidateAsync("""
            {
              "Federation": {
                "Downstream": { "uri": "memory://local/%2f" },
                "Upstreams": { "remote": { "uri": "memory://remote/%2f" } },
                "Policies": { "fed": { "pattern": "^federated\\.", "apply-to": "exchanges", "definition": { "federation-upstream-set": "all" } } }
              },
              "FederationBrokers": {
                "london": { "FederationUri": "memory://fed", "CollectiveUri": "memory://london" },
                "paris": { "FederationUri": "memory://fed", "CollectiveUri": "memory://paris" }
              }
            }
            """);

        Assert.Equal(0, exit);
        Assert.EndsWith(": valid: 1 upstream, 1 policy, 2 federation broker instances", output.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_of_a_host_of_broker_instances_prints_no_links_table_and_lists_the_instances()
    {
        await using var host = await RunningHost.StartAsync(new Dictionary<string, string?>
        {
            ["FederationBrokers:london:FederationUri"] = "memory://status-fed",
            ["FederationBrokers:london:CollectiveUri"] = "memory://status-london",
            ["FederationBrokers:london:InstanceName"] = "status-london-1",
        });
        var url = host.App.Urls.Single();

        foreach (var args in new[] { Array.Empty<string>(), ["--only-down"] })
        {
            using var output = new StringWriter();
            using var error = new StringWriter();
            var exit = await HostCommands.RunAsync(["status", .. args, "--url", url], output, error);

            Assert.True(exit == 0, error.ToString());
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal($"No federation links on {url.TrimEnd('/')}/.", lines[0]);
            Assert.DoesNotContain(string.Join('\t', StatusCommand.Columns), lines);
            Assert.Contains(string.Join('\t', StatusCommand.BrokerColumns), lines);
            Assert.Contains(lines, l => l.StartsWith("london\tlondon\tstatus-london-1\t", StringComparison.Ordinal));
        }
    }

    private static async Task<(int Exit, string Output)> ValidateAsync(string json)
    {
        using var directory = new TemporaryDirectory("federation-brokers-output-");
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, json);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await HostCommands.RunAsync(["validate", file], output, error);
        return (exit, output.ToString() + error);
    }
}
