using System.Net;
using System.Net.Sockets;
using Federation.Core.Transport;
using FederationHost.Cli;

namespace FederationHost.Tests;

/// <summary>
/// The operator subcommands <c>validate</c>, <c>status</c> and <c>restart</c>: called directly with writers against
/// files and an in-process host, and once each through the real binary for the exit code and the absence of stack traces.
/// </summary>
public sealed class HostCommandTests
{
    private const string Secret = "s3cr3t-pw-never-printed";

    private const string GoodFile = """
        {
          "Host": { "Url": "http://127.0.0.1:15690" },
          "Federation": {
            "Downstream": { "uri": "memory://local/%2f" },
            "Upstreams": {
              "remote": { "uri": "memory://federator:s3cr3t-pw-never-printed@remote/%2f", "max-hops": 1 },
              "other": { "uri": "amqp://federator:s3cr3t-pw-never-printed@broker.example:5672/%2f" }
            },
            "Policies": { "fed": { "pattern": "^federated\\.", "apply-to": "exchanges", "definition": { "federation-upstream-set": "all" } } }
          }
        }
        """;

    // Five independent mistakes in three sections; every one must be reported in the same run.
    private const string BadFile = """
        {
          "Host": { "Url": "http://10.1.2.3:15690", "Colour": "blue" },
          "Federation": {
            "Downstream": { "uri": "memory://local/%2f" },
            "Upstreams": {
              "hops": { "uri": "memory://remote/%2f", "max-hops": "many" },
              "ftp": { "uri": "ftp://federator:s3cr3t-pw-never-printed@files.example/" }
            },
            "Policies": { "fed": { "pattern": "(", "definition": { "federation-upstream-set": "all" } } }
          }
        }
        """;

    [Fact]
    public async Task Validate_accepts_a_good_file_and_counts_its_upstreams_and_policies()
    {
        using var directory = new TemporaryDirectory("federation-cli-");
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, GoodFile);

        var (exit, output, error) = await RunAsync("validate", file);

        Assert.Equal(0, exit);
        Assert.Equal($"{file}: valid: 2 upstreams, 1 policy", output.Trim());
        Assert.Empty(error);
    }

    [Fact]
    public async Task Validate_reads_appsettings_json_from_the_content_root_by_default()
    {
        using var directory = new TemporaryDirectory("federation-cli-");
        await File.WriteAllTextAsync(directory.File("appsettings.json"), GoodFile);

        var (exit, output, _) = await RunAsync("validate", "--contentRoot", directory.Path);

        Assert.Equal(0, exit);
        Assert.StartsWith("appsettings.json: valid: 2 upstreams", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_names_every_problem_of_a_file_at_once_with_its_key_and_value_and_no_secret()
    {
        using var directory = new TemporaryDirectory("federation-cli-");
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, BadFile);

        var (exit, output, _) = await RunAsync("validate", file);

        Assert.Equal(HostCommands.Failure, exit);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.Contains("Host:Colour", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Host:Url", StringComparison.Ordinal) && l.Contains("'http://10.1.2.3:15690'", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Upstreams:hops:max-hops", StringComparison.Ordinal) && l.Contains("'many'", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Upstreams:ftp:uri", StringComparison.Ordinal) && l.Contains("ftp://files.example/", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("Policies:fed:pattern", StringComparison.Ordinal) && l.Contains("'('", StringComparison.Ordinal));
        Assert.Equal($"{file}: invalid: 5 problem(s)", lines[^1]);
        Assert.All(lines, l => Assert.StartsWith(file + ": ", l, StringComparison.Ordinal));
        Assert.DoesNotContain(Secret, output, StringComparison.Ordinal);
        Assert.DoesNotContain("federator", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_refuses_a_prefetch_the_amqp_transport_cannot_take_naming_the_key_on_the_upstream_and_the_set_element()
    {
        // The AMQP transport judges its own upstreams (basic.qos carries 16 bits); a memory upstream takes the same value.
        using var directory = new TemporaryDirectory("federation-cli-");
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, GoodFile
            .Replace("\"max-hops\": 1 }", "\"max-hops\": 1, \"prefetch-count\": 70000 }", StringComparison.Ordinal)
            .Replace("broker.example:5672/%2f\" }", "broker.example:5672/%2f\", \"prefetch-count\": 70000 }", StringComparison.Ordinal)
            .Replace("\"Policies\"", "\"UpstreamSets\": { \"s\": [ { \"upstream\": \"other\", \"prefetch-count\": 65536 } ] },\n    \"Policies\"", StringComparison.Ordinal));

        var (exit, output, _) = await RunAsync("validate", file);

        Assert.Equal(HostCommands.Failure, exit);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(
            [
                $"{file}: Upstreams:other:prefetch-count: '70000' is above AMQP's limit of 65535 (basic.qos carries it in 16 bits); set it to at most 65535 for an amqp:// or amqps:// upstream",
                $"{file}: UpstreamSets:s:0:prefetch-count: '65536' is above AMQP's limit of 65535 (basic.qos carries it in 16 bits); set it to at most 65535 for an amqp:// or amqps:// upstream",
                $"{file}: invalid: 2 problem(s)",
            ],
            lines);
    }

    [Fact]
    public async Task Validate_reports_a_file_that_is_not_json_in_one_line()
    {
        using var directory = new TemporaryDirectory("federation-cli-");
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, "{ \"Federation\": ");

        var (exit, output, _) = await RunAsync("validate", file);

        Assert.Equal(HostCommands.Failure, exit);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"{file}: not valid JSON", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_through_the_binary_exits_2_with_the_problems_and_no_stack_trace()
    {
        using var directory = new TemporaryDirectory("federation-cli-");
        var file = directory.File("appsettings.json");
        await File.WriteAllTextAsync(file, BadFile);

        await using var process = HostProcess.StartCommand(directory.Path, "validate", file);
        var exit = await process.WaitForExitAsync();

        Assert.True(exit == HostCommands.Failure, process.Describe());
        Assert.Contains("Upstreams:hops:max-hops", process.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("invalid: 5 problem(s)", process.StandardOutput, StringComparison.Ordinal);
        Assert.Empty(HostProcess.StackTraceLines(process.StandardOutput + process.StandardError));
        Assert.DoesNotContain(Secret, process.StandardOutput + process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_lists_the_links_of_a_running_host_like_rabbitmqctl_federation_status()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("cli-status"));
        await using var app = await host.DeclareExchangeAsync("cli-status-local", "federated.orders");
        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        var id = links[0].GetProperty("id").GetString()!;

        var (exit, output, error) = await RunAsync("status", "--url", host.App.Urls.Single());

        Assert.True(exit == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        Assert.StartsWith("Listing federation links on http://127.0.0.1:", lines[0], StringComparison.Ordinal);
        Assert.Equal(string.Join('\t', StatusCommand.Columns), lines[1]);
        var row = lines[2].Split('\t');
        Assert.Equal(StatusCommand.Columns.Count, row.Length);
        var cell = StatusCommand.Columns.Select((name, i) => (name, value: row[i])).ToDictionary(c => c.name, c => c.value);
        Assert.Equal(id, cell["id"]);
        Assert.Equal("remote", cell["upstream"]);
        Assert.Equal("exchange", cell["type"]);
        Assert.Equal("federated.orders", cell["exchange"]);
        Assert.Equal("federated.orders", cell["upstream_exchange"]);
        Assert.Equal("running", cell["status"]);
        Assert.NotEmpty(cell["local_connection"]);
        Assert.Equal("memory://cli-status-remote/%2f", cell["uri"]);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", cell["timestamp"]);
        Assert.Equal("", cell["error"]);
        Assert.DoesNotContain(RunningHost.Secret, output, StringComparison.Ordinal);

        var (downExit, down, _) = await RunAsync("status", "--only-down", "--url", host.App.Urls.Single());
        Assert.Equal(0, downExit);
        Assert.Equal(2, down.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Status_only_down_lists_a_waiting_link_while_the_host_has_no_downstream()
    {
        // A standby host: another instance holds the link's lease, so this host's link waits. Then its downstream goes
        // away. /health says 503; --only-down must not say that nothing is down.
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("cli-standby"));
        var downstream = host.Brokers.GetOrAdd("cli-standby-local");
        await using var other = await downstream.ConnectAsync();
        var lease = await other.Leases!.TryAcquireAsync(new LeaseRequest("federation: lease cli-standby-local federated.orders -> remote", "other-host"), CancellationToken.None);
        Assert.True(lease.Acquired);
        await using var app = await host.DeclareExchangeAsync("cli-standby-local", "federated.orders");
        await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "waiting", "a waiting link");
        Assert.Empty(await host.GetLinksAsync("?only-down=true")); // waiting for a live holder is not down

        downstream.Stop();
        await Eventually.UntilAsync(
            async () => (await host.Http.GetAsync("/health")).StatusCode, s => s == HttpStatusCode.ServiceUnavailable, "/health at 503");

        var (exit, output, error) = await RunAsync("status", "--only-down", "--url", host.App.Urls.Single());

        Assert.True(exit == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        Assert.True(lines.Length == 3, output);
        Assert.Equal(string.Join('\t', StatusCommand.Columns), lines[1]);
        var cell = StatusCommand.Columns.Zip(lines[2].Split('\t')).ToDictionary(c => c.First, c => c.Second);
        Assert.Equal("federated.orders", cell["exchange"]);
        Assert.Equal("waiting", cell["status"]); // its state is about the lease; the error says why it cannot forward
        Assert.StartsWith("The downstream broker is not connected", cell["error"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_says_on_stderr_why_a_degraded_host_is_degraded()
    {
        // A degraded host (here a link in error; also a link held twice, or run by another federation too, or a blocked
        // downstream) printed its table and nothing else: the rows do not show every one of those.
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("cli-degraded"));
        await using var app = await host.DeclareExchangeAsync("cli-degraded-local", "federated.orders");
        await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        var (healthyExit, _, healthyError) = await RunAsync("status", "--url", host.App.Urls.Single());
        Assert.Equal(0, healthyExit);
        Assert.Equal("", healthyError);

        host.Brokers.GetOrAdd("cli-degraded-remote").Stop();
        await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "error", "a link in error");

        var (exit, _, error) = await RunAsync("status", "--url", host.App.Urls.Single());

        Assert.Equal(0, exit);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("status: 1 of 1 link(s) in error: federated.orders <- remote:", line, StringComparison.Ordinal);
        Assert.DoesNotContain(RunningHost.Secret, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_shows_control_characters_in_names_escaped_never_raw()
    {
        // Anyone who may declare an exchange chooses its name; RabbitMQ keeps an ESC in it. Printed raw, the operator's
        // terminal would act on it (here: switch to red).
        const string name = "federated.esc\u001b[31mred\u001b[0m\u0007\u007f\u009b";
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("cli-escape"));
        await using var app = await host.DeclareExchangeAsync("cli-escape-local", name);
        await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("exchange").GetString() == name, "the link of the exchange");

        var (exit, output, error) = await RunAsync("status", "--url", host.App.Urls.Single());

        Assert.True(exit == 0, error);
        Assert.DoesNotContain(output, c => char.IsControl(c) && c is not ('\t' or '\r' or '\n'));
        Assert.Contains(@"federated.esc\x1B[31mred\x1B[0m\x07\x7F\x9B", output, StringComparison.Ordinal);
        var row = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[2].TrimEnd('\r').Split('\t');
        Assert.Equal(StatusCommand.Columns.Count, row.Length);
    }

    [Theory]
    [InlineData("plain.name", "plain.name")]
    [InlineData("a\u001b[2Jb", @"a\x1B[2Jb")]
    [InlineData("nul\0 bel\a del\u007f csi\u009b", @"nul\x00 bel\x07 del\x7F csi\x9B")]
    [InlineData("tab\tcr\rlf\n", @"tab\x09cr\x0Dlf\x0A")]
    [InlineData(@"C:\path\x1B", @"C:\path\x1B")] // a backslash is not a control character
    [InlineData("ünïcødé → ok", "ünïcødé → ok")]
    [InlineData("orders\u202Etxt.exe", @"orders\u202Etxt.exe")] // right-to-left override
    [InlineData("a\u2066b\u2069c\u200Fd\u061Ce\u202Af", @"a\u2066b\u2069c\u200Fd\u061Ce\u202Af")]
    [InlineData("שלום", "שלום")] // right-to-left text itself is fine
    public void Terminal_text_escapes_every_control_character(string text, string expected)
    {
        Assert.Equal(expected, TerminalText.Escape(text));
    }

    [Fact]
    public void Terminal_text_can_keep_line_breaks_for_a_multi_line_dump()
    {
        Assert.Equal("line 1\r\n\tat x\\x1B[0m", TerminalText.Escape("line 1\r\n\tat x\u001b[0m", keepLineBreaks: true));
    }

    [Fact]
    public async Task Restart_restarts_a_link_and_an_unknown_id_exits_2()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("cli-restart"));
        await using var app = await host.DeclareExchangeAsync("cli-restart-local", "federated.orders");
        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        var id = links[0].GetProperty("id").GetString()!;
        var before = links[0].GetProperty("since").GetString();
        var url = host.App.Urls.Single();

        var (exit, output, error) = await RunAsync("restart", id, "--url", url);

        Assert.True(exit == 0, error);
        Assert.Contains($"Restarting federation link {id}", output, StringComparison.Ordinal);
        await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            l => l is [var only] && only.GetProperty("state").GetString() == "running" && only.GetProperty("since").GetString() != before,
            "the link running again after the restart");

        var (unknownExit, unknownOutput, unknownError) = await RunAsync("restart", "00000000", "--url", url);
        Assert.Equal(HostCommands.Failure, unknownExit);
        Assert.Empty(unknownOutput);
        Assert.Equal("restart: Link with the given ID was not found: '00000000' (the ids are in the first column of 'status').", unknownError.Trim());
    }

    [Fact]
    public async Task Status_and_restart_exit_2_with_one_line_when_the_host_is_not_reachable()
    {
        var url = $"http://127.0.0.1:{UnusedPort()}";

        foreach (var command in new[] { new[] { "status", "--url", url }, ["restart", "00000000", "--url", url] })
        {
            var (exit, output, error) = await RunAsync(command);
            Assert.Equal(HostCommands.Failure, exit);
            Assert.Empty(output);
            var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"{command[0]}: cannot reach the federation host at {url}/", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Restart_against_a_host_that_takes_the_connection_but_does_not_answer_says_the_restart_may_still_happen()
    {
        // A paused host (SIGSTOP) accepts the connection in its kernel and acts on the request when it resumes.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";

        var (exit, output, error) = await RunAsync("restart", "00000000", "--url", url);

        Assert.Equal(HostCommands.Failure, exit);
        Assert.Empty(output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"restart: the federation host at {url}/ did not answer within 15 s", line, StringComparison.Ordinal);
        Assert.Contains("the link may still restart once the host answers", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_through_the_binary_exits_2_when_the_host_is_not_reachable()
    {
        using var directory = new TemporaryDirectory("federation-cli-");
        await using var process = HostProcess.StartCommand(directory.Path, "status", "--url", $"http://127.0.0.1:{UnusedPort()}");

        var exit = await process.WaitForExitAsync();

        Assert.True(exit == HostCommands.Failure, process.Describe());
        Assert.Contains("status: cannot reach the federation host", process.StandardError, StringComparison.Ordinal);
        Assert.Empty(HostProcess.StackTraceLines(process.StandardOutput + process.StandardError));
    }

    [Theory]
    [InlineData("stauts")]
    [InlineData("Status")]
    [InlineData("validte")]
    public async Task A_misspelt_command_exits_2_naming_the_commands_instead_of_starting_the_host(string typo)
    {
        // The configuration's command line skips a bare word, so a typo would otherwise start a host that joins the
        // federation where the operator only meant to look.
        Assert.True(HostCommands.IsCommand([typo]));

        var (exit, output, error) = await RunAsync(typo);

        Assert.Equal(HostCommands.Failure, exit);
        Assert.Empty(output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"{typo}: unknown command; the commands are validate, status and restart", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData()]
    [InlineData("--contentRoot", "/etc/federation")]
    [InlineData("--Federation:InstanceName=host-1")]
    [InlineData("-Host:Url", "http://127.0.0.1:15691")]
    [InlineData("/Host:Url", "http://127.0.0.1:15691")]
    [InlineData("Host:Url=http://127.0.0.1:15691")]
    public void Settings_on_the_command_line_start_the_host(params string[] args) =>
        Assert.False(HostCommands.IsCommand(args));

    [Fact]
    public async Task A_misspelt_command_through_the_binary_exits_2_without_starting_the_host()
    {
        using var directory = new TemporaryDirectory("federation-cli-");
        await File.WriteAllTextAsync(directory.File("appsettings.json"), GoodFile.Replace("15690", "0", StringComparison.Ordinal));

        await using var process = HostProcess.StartCommand(directory.Path, "stauts", "--contentRoot", directory.Path);
        var exit = await process.WaitForExitAsync();

        Assert.True(exit == HostCommands.Failure, process.Describe());
        Assert.Contains("stauts: unknown command", process.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", process.StandardOutput, StringComparison.Ordinal);
        Assert.Empty(HostProcess.StackTraceLines(process.StandardOutput + process.StandardError));
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await HostCommands.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    // A loopback port the OS just handed out and nobody listens on any more.
    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
