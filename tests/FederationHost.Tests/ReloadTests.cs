namespace FederationHost.Tests;

/// <summary>The host follows configuration reloads, including brokers and the Downstream alias.</summary>
public sealed class ReloadTests
{
    [Fact]
    public async Task A_policy_added_at_runtime_starts_a_link()
    {
        var settings = RunningHost.DefaultSettings("reload");
        settings.Remove("Federation:Policies:fed:pattern");
        settings.Remove("Federation:Policies:fed:apply-to");
        settings.Remove("Federation:Policies:fed:definition:federation-upstream-set");
        await using var host = await RunningHost.StartAsync(settings);
        await using var app = await host.DeclareExchangeAsync("reload-local", "federated.orders");
        Assert.Empty(await host.GetLinksAsync());

        // A new upstream on a broker not mentioned before: the host creates it on reload, before the engine connects.
        host.Configuration.Update(new Dictionary<string, string?>
        {
            ["Federation:Upstreams:later:uri"] = "memory://reload-later/%2f",
            ["Federation:Policies:fed:pattern"] = "^federated\\.",
            ["Federation:Policies:fed:definition:federation-upstream"] = "later",
        });

        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "the link started by the reload");
        Assert.Equal("later", links[0].GetProperty("upstream").GetString());
        Assert.True(host.Brokers.TryGet("reload-later", out _));

        host.Configuration.Update(new Dictionary<string, string?> { ["Federation:Policies:fed:pattern"] = "^nothing$" });
        await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l.Length == 0, "the link stopped by the next reload");
    }

    [Fact]
    public async Task A_top_level_Downstream_uri_is_an_alias_and_Federation_wins_when_both_are_set()
    {
        var settings = RunningHost.DefaultSettings("alias");
        settings.Remove("Federation:Downstream:uri");
        settings["Downstream:uri"] = "memory://alias-local/%2f";
        await using var host = await RunningHost.StartAsync(settings);
        await using var app = await host.DeclareExchangeAsync("alias-local", "federated.orders");
        await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a link on the aliased downstream");

        // Both set: Federation:Downstream:uri wins, so the links move to the other downstream (whose exchange does not exist yet).
        host.Configuration.Update(new Dictionary<string, string?> { ["Federation:Downstream:uri"] = "memory://alias-other/%2f" });
        await Eventually.UntilAsync(
            () => Task.FromResult(host.Brokers.TryGet("alias-other", out var other) && other.ConnectionCount > 0),
            connected => connected,
            "the engine connected to Federation:Downstream:uri");
        Assert.Empty(await host.GetLinksAsync());
    }
}
