using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// One FederationHost process started as the README's recipe starts it (the built binary with <c>--contentRoot DIR</c>
/// holding the recipe's appsettings.json), seen only from outside: its HTTP endpoints and its output.
/// </summary>
internal sealed class BlackBoxHost : IAsyncDisposable
{
    private readonly HttpClient _http;

    private BlackBoxHost(HostProcess process, Uri url)
    {
        Process = process;
        _http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(10) };
    }

    public HostProcess Process { get; }

    /// <summary>Starts the host on <paramref name="appSettingsJson"/> and waits until it listens.</summary>
    public static async Task<BlackBoxHost> StartAsync(string appSettingsJson)
    {
        var process = HostProcess.Start(appSettingsJson);
        try
        {
            return new BlackBoxHost(process, await process.WaitForListeningAsync());
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>The host's only link (each black-box host has one upstream and one federated exchange), once it exists.</summary>
    public async Task<JsonElement> LinkAsync() =>
        (await Eventually.UntilAsync(LinksAsync, l => l.Length == 1, "the host's one link in /federation/links\n" + Process.Describe()))[0];

    public async Task<JsonElement[]> LinksAsync() =>
        await _http.GetFromJsonAsync<JsonElement[]>("/federation/links") ?? [];

    /// <summary>Waits until the one link is <c>running</c> (by default as long as a host may take to start on a busy machine).</summary>
    public async Task WaitUntilRunningAsync(TimeSpan? timeout = null) =>
        await Eventually.UntilAsync(
            async () => (await LinksAsync()) is [var only] ? $"{only.GetProperty("state").GetString()} {only.GetProperty("error")}" : "no link",
            state => state.StartsWith("running ", StringComparison.Ordinal),
            "the link to be running",
            timeout ?? HostProcess.DefaultTimeout);

    /// <summary>Messages the link has forwarded and dropped so far (<c>/federation/links/traffic</c>); zeros before the first.</summary>
    public async Task<(long Forwarded, long Dropped)> TrafficAsync()
    {
        var rows = await _http.GetFromJsonAsync<JsonElement[]>("/federation/links/traffic") ?? [];
        return rows is [var only]
            ? ((long)only.GetProperty("forwarded").GetDouble(), (long)only.GetProperty("dropped").GetDouble())
            : (0, 0);
    }

    /// <summary>The dropped messages per reason label (<c>federation_link_messages_dropped_total</c> in <c>/metrics</c>).</summary>
    public async Task<IReadOnlyDictionary<string, long>> DroppedByReasonAsync()
    {
        var metrics = await _http.GetStringAsync("/metrics");
        var byReason = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in metrics.Split('\n'))
        {
            if (!line.StartsWith("federation_link_messages_dropped_total{", StringComparison.Ordinal))
            {
                continue;
            }

            const string Label = "federation_drop_reason=\"";
            var at = line.IndexOf(Label, StringComparison.Ordinal);
            var reason = at < 0 ? "" : line[(at + Label.Length)..line.IndexOf('"', at + Label.Length)];
            var value = (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
            byReason[reason] = byReason.GetValueOrDefault(reason) + value;
        }

        return byReason;
    }

    /// <summary>Everything the host wrote, for failure messages and secret checks.</summary>
    public string Output => Process.StandardOutput + Process.StandardError;

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await Process.TerminateAsync();
        await Process.TryWaitForExitAsync(HostProcess.DefaultTimeout);
        await Process.DisposeAsync();
    }
}
