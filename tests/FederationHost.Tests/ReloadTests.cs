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

    }

    [Fact]
    public async Task Federation_Downstream_uri_wins_over_the_alias_when_both_are_set()
    {
        var settings = RunningHost.DefaultSettings("both");
        settings["Downstream:uri"] = "memory://both-ignored/%2f";
        await using var host = await RunningHost.StartAsync(settings);
        await using var app = await host.DeclareExchangeAsync("both-local", "federated.orders");
        await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a link on Federation:Downstream:uri");

        var local = host.Brokers.GetOrAdd("both-local");
        Assert.True(local.ConnectionCount > 0);
        // The alias was never used: not even the demo broker for it was created.
        Assert.False(host.Brokers.TryGet("both-ignored", out _));
    }
}
