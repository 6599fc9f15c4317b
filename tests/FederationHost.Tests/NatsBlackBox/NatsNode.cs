using System.Net.Http.Json;
using System.Text.Json;
using Federation.Testing.Brokers;

namespace FederationHost.Tests.NatsBlackBox;

/// <summary>
/// One nats-server of a black-box topology, with its federation identity (<c>-n</c> and the URIs' <c>cluster-name</c>)
/// and what its HTTP monitoring port tells about it: the subscriptions it holds (<c>/subsz</c>) and its slow consumers
/// (<c>/varz</c>). A test sees interest arriving at and leaving an upstream only through these.
/// </summary>
internal sealed class NatsNode(string name, NatsServerProcess server) : IAsyncDisposable
{
    private static readonly HttpClient Monitor = new() { Timeout = TimeSpan.FromSeconds(10) };

    public string Name { get; } = name;

    public NatsServerProcess Server { get; } = server;

    public static async Task<NatsNode> StartAsync(string name, string[] serverArgs) =>
        new(name, await NatsServerProcess.StartAsync(serverArgs));

    /// <summary>The subjects of every client subscription the server holds now, one entry per subscription.</summary>
    public async Task<IReadOnlyList<string>> SubscribedSubjectsAsync()
    {
        using var subsz = await Monitor.GetFromJsonAsync<JsonDocument>($"http://127.0.0.1:{Server.MonitorPort}/subsz?subs=1");
        return subsz!.RootElement.TryGetProperty("subscriptions_list", out var list) && list.ValueKind == JsonValueKind.Array
            ? [.. list.EnumerateArray().Select(s => s.GetProperty("subject").GetString()!)]
            : [];
    }

    /// <summary>How many subscriptions on exactly <paramref name="subject"/> the server holds now.</summary>
    public async Task<int> SubscriptionCountAsync(string subject) =>
        (await SubscribedSubjectsAsync()).Count(s => s == subject);

    /// <summary>The server's slow-consumer count (<c>/varz</c> <c>slow_consumers</c>): clients it dropped messages for.</summary>
    public async Task<long> SlowConsumersAsync()
    {
        using var varz = await Monitor.GetFromJsonAsync<JsonDocument>($"http://127.0.0.1:{Server.MonitorPort}/varz");
        return varz!.RootElement.TryGetProperty("slow_consumers", out var value) ? value.GetInt64() : 0;
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
