using System.Net;
using System.Text.Json;
using Federation.Core.Transport;

namespace FederationHost.Tests;

/// <summary><c>/federation/links</c> and the restart endpoint against a real listener and in-memory brokers.</summary>
public sealed class LinksEndpointTests
{
    [Fact]
    public async Task A_federated_exchange_shows_a_running_link_without_credentials()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("links"));
        await using var app = await host.DeclareExchangeAsync("links-local", "federated.orders");

        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        var link = links[0];
        Assert.Equal("federated.orders", link.GetProperty("exchange").GetString());
        Assert.Equal("federated.orders", link.GetProperty("upstream_exchange").GetString());
        Assert.Equal("remote", link.GetProperty("upstream").GetString());
        Assert.Equal("/", link.GetProperty("vhost").GetString());
        Assert.Equal("memory://links-remote/%2f", link.GetProperty("uri").GetString());
        Assert.Equal("fed", link.GetProperty("policy").GetString());
        Assert.Equal(JsonValueKind.Null, link.GetProperty("error").ValueKind);
        Assert.False(string.IsNullOrEmpty(link.GetProperty("local_connection").GetString()));
        Assert.Matches("^[0-9a-f]{8}$", link.GetProperty("id").GetString());
        var since = DateTimeOffset.Parse(link.GetProperty("since").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(since, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));

        var body = await host.Http.GetStringAsync("/federation/links");
        Assert.DoesNotContain(RunningHost.Secret, body, StringComparison.Ordinal);
        Assert.DoesNotContain("federator", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_link_shows_the_messages_it_dropped_by_reason()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("drops"));
        await using var local = await host.DeclareExchangeAsync("drops-local", "federated.orders");
        await local.DeclareQueueAsync(new QueueSpec("desk"), CancellationToken.None);
        await local.BindAsync(new BindingSpec("federated.orders", "desk", BindingDestinationKind.Queue, "#"), noWait: false, CancellationToken.None);
        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        Assert.Equal(JsonValueKind.Null, links[0].GetProperty("dropped_messages").ValueKind);
        var remote = host.Brokers.GetOrAdd("drops-remote");
        await Eventually.UntilAsync(() => Task.FromResult(remote.GetBindings("/", "federated.orders").Count), c => c >= 1, "the binding propagated upstream");

        // A trail as long as max-hops (1): the link drops the message, counted as max_hops.
        await using var upstream = await remote.ConnectAsync();
        await using var publisher = await upstream.OpenPublisherAsync(new PublisherOptions(Confirms: true), CancellationToken.None);
        var trail = new List<object?>
        {
            new Dictionary<string, object?> { ["uri"] = "memory://elsewhere/%2f", ["exchange"] = "federated.orders", ["redelivered"] = false, ["cluster-name"] = "elsewhere", ["vhost"] = "/" },
        };
        var properties = new MessageProperties { Headers = new Dictionary<string, object?> { ["x-received-from"] = trail } };
        await publisher.PublishAsync("federated.orders", "order.created", properties, "one"u8.ToArray(), CancellationToken.None);

        var dropped = await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            l => l is [var only] && only.GetProperty("dropped_messages").ValueKind == JsonValueKind.Object,
            "the dropped message in the link's status");
        Assert.Equal(1, dropped[0].GetProperty("dropped_messages").GetProperty("max_hops").GetInt64());
    }

    [Fact]
    public async Task Only_down_keeps_the_links_that_are_neither_running_nor_starting()
    {
        var settings = RunningHost.DefaultSettings("down");
        // The broker exists (created from the configuration) but this vhost does not, so this link stays in error.
        settings["Federation:Upstreams:broken:uri"] = "memory://down-remote/missing-vhost";
        await using var host = await RunningHost.StartAsync(settings);
        await using var app = await host.DeclareExchangeAsync("down-local", "federated.orders");

        await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            l => l.Length == 2 && l.Any(x => x.GetProperty("state").GetString() == "running") && l.Any(x => x.GetProperty("state").GetString() == "error"),
            "one running and one failed link");

        var down = await host.GetLinksAsync("?only-down=true");
        var only = Assert.Single(down);
        Assert.Equal("broken", only.GetProperty("upstream").GetString());
        Assert.Equal("error", only.GetProperty("state").GetString());
        Assert.False(string.IsNullOrEmpty(only.GetProperty("error").GetString()));

        Assert.Equal(2, (await host.GetLinksAsync("?only-down=false")).Length);
    }

    [Fact]
    public async Task Restart_returns_202_for_a_link_and_404_for_an_unknown_id()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("restart"));
        await using var app = await host.DeclareExchangeAsync("restart-local", "federated.orders");
        var links = await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "a running link");
        var id = links[0].GetProperty("id").GetString()!;
        var before = links[0].GetProperty("since").GetString();

        using var accepted = await host.Http.PostAsync($"/federation/links/{id}/restart", content: null);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal($"/federation/links/{id}", accepted.Headers.Location?.OriginalString);

        // The restarted link comes back running, with the same id (ids are stable across restarts) and a new "since".
        await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            l => l is [var only] && only.GetProperty("id").GetString() == id && only.GetProperty("state").GetString() == "running" &&
                 only.GetProperty("since").GetString() != before,
            "the link running again after the restart");

        using var missing = await host.Http.PostAsync("/federation/links/00000000/restart", content: null);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task A_single_link_is_served_by_id_and_an_unknown_id_is_404()
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("byid"));
        await using var app = await host.DeclareExchangeAsync("byid-local", "federated.orders");
        var links = await Eventually.UntilAsync(() => host.GetLinksAsync(), l => l.Length == 1, "a link");
        var id = links[0].GetProperty("id").GetString()!;

        using var found = JsonDocument.Parse(await host.Http.GetStringAsync($"/federation/links/{id}"));
        Assert.Equal(id, found.RootElement.GetProperty("id").GetString());
        Assert.Equal("remote", found.RootElement.GetProperty("upstream").GetString());

        using var missing = await host.Http.GetAsync("/federation/links/00000000");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Theory]
    [InlineData("?only-down=1", "'1'")]
    [InlineData("?only-down=yes", "'yes'")]
    [InlineData("?only-down=maybe", "'maybe'")]
    [InlineData("?only-down=", "''")]
    [InlineData("?only-down=%20true", "' true'")]
    [InlineData("?only-down=true&only-down=false", "given 2 times")]
    [InlineData("?only-down=true&only-down=true", "given 2 times")]
    public async Task Only_down_other_than_true_or_false_is_400_naming_the_parameter_and_value(string query, string shown)
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("strict" + Math.Abs(query.GetHashCode(StringComparison.Ordinal))));

        using var response = await host.Http.GetAsync("/federation/links" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("only-down", body.RootElement.GetProperty("parameter").GetString());
        var error = body.RootElement.GetProperty("error").GetString()!;
        Assert.Contains("only-down", error, StringComparison.Ordinal);
        Assert.Contains(shown, error, StringComparison.Ordinal);
        Assert.Contains("true or false", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("?onlydown=true", "onlydown")]
    [InlineData("?only_down=true", "only_down")]
    [InlineData("?only-down=true&state=error", "state")]
    public async Task An_unknown_query_parameter_is_400_naming_it_rather_than_every_link(string query, string named)
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("typo" + Math.Abs(query.GetHashCode(StringComparison.Ordinal))));

        using var response = await host.Http.GetAsync("/federation/links" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(named, body.RootElement.GetProperty("parameter").GetString());
        Assert.Contains("only-down=true|false", body.RootElement.GetProperty("error").GetString()!, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("?only-down=TRUE")]
    [InlineData("?only-down=False")]
    [InlineData("")]
    public async Task Only_down_is_case_insensitive_and_optional(string query)
    {
        await using var host = await RunningHost.StartAsync(RunningHost.DefaultSettings("case" + Math.Abs(query.GetHashCode(StringComparison.Ordinal))));

        using var response = await host.Http.GetAsync("/federation/links" + query);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
