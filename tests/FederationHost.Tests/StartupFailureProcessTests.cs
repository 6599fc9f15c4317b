using System.Net;
using System.Net.Sockets;

namespace FederationHost.Tests;

/// <summary>
/// The built host, run as a process, refuses to start on a configuration or listener problem with exit code 2 and one
/// <c>FederationHost: </c> line per problem on stderr, and no stack trace anywhere unless debug logging is on.
/// </summary>
public sealed class StartupFailureProcessTests
{
    private const string Federation = """ "Federation": { "Downstream": { "uri": "memory://proc-local/%2f" } } """;

    public static TheoryData<string, string, string> BadSettings => new()
    {
        { "invalid JSON", """{ "Host": { "Url": "http://127.0.0.1:0" }, """, "not valid JSON" },
        { "duplicate key", $$"""{ "Host": { "Url": "http://127.0.0.1:0", "Url": "http://127.0.0.1:0" }, {{Federation}} }""", "A duplicate key 'Host:Url' was found" },
        { "nesting deeper than 64", "{ \"a\": " + new string('[', 70) + new string(']', 70) + " }", "maximum configured depth of 64" },
        { "empty file", "", "appsettings.json" },
        { "top-level array", "[]", "Top-level JSON element must be an object" },
        { "Host:Ulr", $$"""{ "Host": { "Ulr": "http://127.0.0.1:0" }, {{Federation}} }""", "Host:Ulr is not a recognised key; known keys: Url, AllowRemote, CreateInMemoryBrokers, Metrics, Demo" },
        { "Host as a value", $$"""{ "Host": "http://127.0.0.1:0", {{Federation}} }""", "Host: 'http://127.0.0.1:0' is a single value" },
        { "Downstream alias typo", $$"""{ "Host": { "Url": "http://127.0.0.1:0" }, "Downstream": { "url": "memory://proc-local/%2f" } }""", "Downstream:url is not a recognised key; known keys: uri" },
        { "non-loopback Host:Url", $$"""{ "Host": { "Url": "http://10.1.2.3:0" }, {{Federation}} }""", "Host:AllowRemote=true" },
        { "no downstream", """{ "Host": { "Url": "http://127.0.0.1:0" } }""", "invalid Federation configuration: Downstream:uri" },
        {
            "presence timeout under three heartbeats",
            """{ "Host": { "Url": "http://127.0.0.1:0" }, "Federation": { "Downstream": { "uri": "memory://proc-local/%2f" }, "Ownership": { "PresenceTimeout": "00:00:02" } } }""",
            "Ownership:PresenceTimeout: '00:00:02' is shorter than three heartbeats (HeartbeatInterval '00:00:01' x 3 = '00:00:03')"
        },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task A_bad_settings_file_exits_2_with_one_clear_line_and_no_stack_trace(string name, string appSettings, string expected)
    {
        await using var host = HostProcess.Start(appSettings);

        var exitCode = await host.WaitForExitAsync();

        Assert.True(exitCode == 2, $"{name}: exit code {exitCode}\n{host.Describe()}");
        AssertCleanFailure(host, expected);
    }

    [Fact]
    public async Task A_HOST_environment_variable_is_not_taken_for_the_Host_section()
    {
        // Shells and container images export HOST as a host name; it must not stop the host.
        await using var host = HostProcess.Start(
            $$"""{ "Host": { "Url": "http://127.0.0.1:0" }, {{Federation}} }""",
            environment: new Dictionary<string, string?> { ["HOST"] = "0.0.0.0" });

        await host.WaitForListeningAsync();
        await host.TerminateAsync();
        Assert.Equal(0, await host.WaitForExitAsync());
    }

    [Fact]
    public async Task A_port_in_use_exits_2_naming_Host_Url()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        await using var host = HostProcess.Start($$"""{ "Host": { "Url": "http://127.0.0.1:{{port}}" }, {{Federation}} }""");

        Assert.Equal(2, await host.WaitForExitAsync());
        AssertCleanFailure(host, $"Host:Url: Failed to bind to address http://127.0.0.1:{port}");
        Assert.Contains("address already in use", host.StandardError, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task With_debug_logging_the_exception_is_printed_too()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        await using var host = HostProcess.Start(
            $$"""{ "Host": { "Url": "http://127.0.0.1:{{port}}" }, {{Federation}} }""",
            ["--Logging:LogLevel:FederationHost=Debug"]);

        Assert.Equal(2, await host.WaitForExitAsync());
        Assert.StartsWith("FederationHost: Host:Url: ", host.StandardError, StringComparison.Ordinal);
        Assert.Contains("AddressInUseException", host.StandardError, StringComparison.Ordinal);
        Assert.NotEmpty(HostProcess.StackTraceLines(host.StandardError));
    }

    [Fact]
    public async Task An_IPv4_mapped_loopback_address_listens_on_IPv4_and_SIGTERM_stops_it_with_exit_code_0()
    {
        await using var host = HostProcess.Start($$"""{ "Host": { "Url": "http://[::ffff:127.0.0.1]:0" }, {{Federation}} }""");

        var url = await host.WaitForListeningAsync();
        Assert.Equal("127.0.0.1", url.Host);
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.GetAsync(new Uri("/federation/links", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await host.TerminateAsync();
        Assert.Equal(0, await host.WaitForExitAsync());
        Assert.Empty(HostProcess.StackTraceLines(host.StandardOutput + host.StandardError));
    }

    private static void AssertCleanFailure(HostProcess host, string expected)
    {
        var lines = host.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 0, "nothing on stderr\n" + host.Describe());
        Assert.All(lines, l => Assert.StartsWith("FederationHost: ", l, StringComparison.Ordinal));
        Assert.True(lines.Any(l => l.Contains(expected, StringComparison.Ordinal)), $"no stderr line contains \"{expected}\"\n{host.Describe()}");
        Assert.True(HostProcess.StackTraceLines(host.StandardOutput + host.StandardError).Count == 0, "a stack trace was printed\n" + host.Describe());
        Assert.DoesNotContain("Unhandled exception", host.StandardOutput + host.StandardError, StringComparison.Ordinal);
    }
}
