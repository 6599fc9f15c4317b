using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace FederationHost.Tests;

/// <summary>
/// The binary with broker instances only, as an operator runs it: an instance without <c>InstanceName</c> gets the
/// library's default, <c>&lt;machine&gt;-&lt;name&gt;-&lt;pid&gt;</c> (the start's own check of the section must not
/// take that name and leave the instance a <c>-2</c>), and <c>status</c> lists the instances after the (empty) link
/// table, with an instance that cannot connect explained on stderr and no talk of a downstream the host does not have.
/// </summary>
public sealed class FederationBrokersProcessTests
{
    [Fact]
    public async Task Status_lists_the_broker_instances_and_a_default_instance_name_is_the_librarys()
    {
        const string Password = "status-pa55-never-shown";
        await using var host = HostProcess.Start($$"""
            {
              "Host": { "Url": "http://127.0.0.1:0" },
              "FederationBrokers": {
                "london": { "FederationUri": "memory://broker:{{Password}}@federation", "CollectiveUri": "memory://london" },
                "tokyo": { "FederationUri": "nats://broker:{{Password}}@127.0.0.1:{{UnusedPort()}}", "CollectiveUri": "memory://tokyo", "InstanceName": "tokyo-1" }
              }
            }
            """);
        var url = await host.WaitForListeningAsync();
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
        var brokers = await Eventually.UntilAsync(
            async () => await http.GetFromJsonAsync<JsonElement[]>("/federation/brokers") ?? [],
            b => b is [var london, _] && london.GetProperty("state").GetString() == "connected",
            "london connected");
        Assert.Equal($"{Environment.MachineName}-london-{host.Id.ToString(CultureInfo.InvariantCulture)}", brokers[0].GetProperty("instance").GetString());

        await using var status = HostProcess.StartCommand(host.ContentRoot, "status", "--url", url.ToString());
        Assert.Equal(0, await status.WaitForExitAsync());

        var lines = status.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains($"Listing federation broker instances on {url} ...", lines);
        Assert.Contains(lines, l => l.StartsWith("london\tlondon\t", StringComparison.Ordinal) && l.Contains("\tconnected\tmemory://federation\tmemory://london\tnative\t1\t", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("tokyo\ttokyo\ttokyo-1\tconnecting\t", StringComparison.Ordinal));
        Assert.Contains("tokyo/tokyo-1", status.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("downstream", status.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, status.StandardOutput + status.StandardError + host.StandardOutput + host.StandardError, StringComparison.Ordinal);
    }

    // A loopback port the OS just handed out and nobody listens on any more.
    private static int UnusedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
