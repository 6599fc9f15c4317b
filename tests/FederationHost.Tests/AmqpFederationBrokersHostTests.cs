using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Federation.Core.Collectives;
using Federation.Testing.Brokers;
using Microsoft.Extensions.DependencyInjection;

namespace FederationHost.Tests;

/// <summary>
/// The host's broker instance over AMQP: a real RabbitMQ node with the federation in one vhost and the collective in
/// another (<c>amqp://</c> URIs with credentials), a <see cref="FederatedClient"/> in the first reaching a node in the
/// second through the host, and the reply coming back; <c>/federation/brokers</c> shows the URIs without the password.
/// </summary>
public sealed class AmqpFederationBrokersHostTests : IAsyncLifetime
{
    private RabbitMqNode _node = null!;

    public async Task InitializeAsync()
    {
        _node = await RabbitMqNode.StartNewAsync([]);
        foreach (var vhost in new[] { "federation", "london" })
        {
            var added = await _node.CtlAsync(CancellationToken.None, "add_vhost", vhost);
            Assert.True(added.ExitCode == 0, added.Output);
            var permitted = await _node.CtlAsync(CancellationToken.None, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
            Assert.True(permitted.ExitCode == 0, permitted.Output);
        }
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task A_federated_request_crosses_from_one_vhost_to_the_other_through_the_host_and_the_reply_comes_back()
    {
        await using var host = await RunningHost.StartAsync(new Dictionary<string, string?>
        {
            ["FederationBrokers:london:FederationUri"] = _node.AmqpUri("federation"),
            ["FederationBrokers:london:CollectiveUri"] = _node.AmqpUri("london"),
        });
        var transports = host.App.Services.GetRequiredService<SubjectTransportResolver>();
        await using var node = await transports.ConnectAsync(_node.AmqpUri("london"), "node n1", CancellationToken.None);
        await node.SubscribeAsync("mcollective.node.n1", null, (request, token) => node.ReplyAsync(request, "pong over amqp"u8.ToArray(), null, token), CancellationToken.None);
        await using var federation = await transports.ConnectAsync(_node.AmqpUri("federation"), "client", CancellationToken.None);
        await using var client = new FederatedClient(federation, new FederatedClientOptions { Identity = "amqp-test-client" });

        await Eventually.UntilAsync(
            async () => await host.Http.GetFromJsonAsync<JsonElement[]>("/federation/brokers") ?? [],
            b => b is [var only] && only.GetProperty("state").GetString() == "connected",
            "a connected broker instance",
            TimeSpan.FromSeconds(60));
        var result = await client.RequestAsync(
            new FederatedRequest { Federations = ["london"], Targets = ["mcollective.node.n1"], Body = "ping"u8.ToArray(), ExpectedReplies = 1 },
            CancellationToken.None);

        Assert.True(result.Completed, $"the request timed out: {result.Reason}\n{host.Logs.Text}");
        Assert.Equal("pong over amqp", Encoding.UTF8.GetString(Assert.Single(result.Replies).Body.Span));
        var brokers = await host.Http.GetStringAsync("/federation/brokers");
        using var listed = JsonDocument.Parse(brokers);
        Assert.Equal(_node.DisplayUri("federation"), listed.RootElement[0].GetProperty("federation_uri").GetString(), ignoreCase: true);
        Assert.DoesNotContain("guest:guest", brokers + host.Logs.Text, StringComparison.Ordinal);
    }
}
