using System.Globalization;
using Federation.Testing.Brokers;
using RabbitMQ.Client;

namespace FederationHost.Tests;

/// <summary>One real RabbitMQ node with a user <c>federator</c> whose password the tests look for in every answer.</summary>
public sealed class OneRabbitMqNodeFixture : IAsyncLifetime
{
    public const string User = "federator";
    public const string Password = "d0wnstream-pa55-never-shown";

    private RabbitMqNode? _node;

    public RabbitMqNode Node => _node ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync()
    {
        _node = await RabbitMqNode.StartNewAsync();
        foreach (var command in new[]
        {
            new[] { "add_user", User, Password },
            ["set_user_tags", User, "administrator"],
            ["set_permissions", "-p", "/", User, ".*", ".*", ".*"],
        })
        {
            var result = await _node.CtlAsync(CancellationToken.None, command);
            Assert.True(result.ExitCode == 0, $"rabbitmqctl {command[0]}: {result.Output}");
        }
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

/// <summary>
/// A host whose AMQP downstream is bad in each way an operator gets it wrong: a port nobody listens on, a wrong password
/// (ACCESS_REFUSED), an unknown vhost, a host name that does not resolve, amqps:// to the plain port. Links follow the
/// downstream's exchanges, so a host that has never reached its downstream knows of none: it lists none and says why
/// (status on stderr, /health). A host whose downstream goes bad by a reload lists every link it ran, with the same ids
/// and the downstream's error, as long as the reload names the same downstream (new credentials; with a configured
/// ClusterName, the same vhost elsewhere). Either way it keeps retrying, and no answer carries the password.
/// </summary>
public sealed class AmqpBadDownstreamTests(OneRabbitMqNodeFixture rabbit) : IClassFixture<OneRabbitMqNodeFixture>
{
    private const string WrongPassword = "wr0ng-pa55-never-shown";
    private const string UpstreamSecret = "upstream-pa55-never-shown";

    private readonly string _tag = $"t{Guid.NewGuid():N}"[..12];

    public enum Bad
    {
        ClosedPort,
        WrongPassword,
        UnknownVhost,
        UnresolvableHost,
        AmqpsToPlainPort,
    }

    private RabbitMqNode Node => rabbit.Node;

    [Theory]
    [InlineData(Bad.ClosedPort)]
    [InlineData(Bad.WrongPassword)]
    [InlineData(Bad.UnknownVhost)]
    [InlineData(Bad.UnresolvableHost)]
    [InlineData(Bad.AmqpsToPlainPort)]
    public async Task At_start_a_bad_downstream_lists_no_link_and_status_and_health_say_why_while_the_host_retries(Bad bad)
    {
        await using var host = await RunningHost.StartAsync(Settings(BadUri(bad)));

        await DownstreamDownListing.AssertNoLinkKnownAsync(host, Problem(bad), OneRabbitMqNodeFixture.User, OneRabbitMqNodeFixture.Password, WrongPassword, UpstreamSecret);
        await DownstreamDownListing.AssertStillRetryingAsync(host);
    }

    [Theory]
    [InlineData(Bad.ClosedPort)]
    [InlineData(Bad.WrongPassword)]
    [InlineData(Bad.UnresolvableHost)]
    [InlineData(Bad.AmqpsToPlainPort)]
    public async Task After_a_reload_to_a_bad_uri_of_the_same_downstream_every_link_stays_listed_with_the_downstreams_error(Bad bad)
    {
        string[] exchanges = [$"federated.{_tag}.orders", $"federated.{_tag}.invoices"];
        await DeclareAsync(exchanges);
        await using var host = await RunningHost.StartAsync(Settings(GoodUri()));
        var running = await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            l => l.Length == 2 && l.All(x => x.GetProperty("state").GetString() == "running"),
            "both links running on the good downstream",
            TimeSpan.FromSeconds(30));

        host.Configuration.Update([new("Federation:Downstream:uri", BadUri(bad))]);

        var listed = await DownstreamDownListing.AssertEveryLinkListedAsync(host, exchanges, Problem(bad), OneRabbitMqNodeFixture.User, OneRabbitMqNodeFixture.Password, WrongPassword, UpstreamSecret);
        Assert.Equal(Ids(running), Ids(listed)); // the links that start again once it connects
        Assert.All(listed, l => Assert.Equal("remote", l.GetProperty("upstream").GetString()));
        await DownstreamDownListing.AssertStillRetryingAsync(host);
    }

    [Fact]
    public async Task After_a_reload_to_an_unknown_vhost_the_links_of_the_old_one_go_and_status_and_health_say_why()
    {
        // Another vhost is another downstream: its exchanges, and so its links, are known only once it is reached.
        await DeclareAsync([$"federated.{_tag}.orders"]);
        await using var host = await RunningHost.StartAsync(Settings(GoodUri()));
        await Eventually.UntilAsync(
            () => host.GetLinksAsync(), l => l is [var only] && only.GetProperty("state").GetString() == "running", "the link running", TimeSpan.FromSeconds(30));

        host.Configuration.Update([new("Federation:Downstream:uri", BadUri(Bad.UnknownVhost))]);

        await DownstreamDownListing.AssertNoLinkKnownAsync(host, Problem(Bad.UnknownVhost), OneRabbitMqNodeFixture.User, OneRabbitMqNodeFixture.Password, WrongPassword, UpstreamSecret);
        await DownstreamDownListing.AssertStillRetryingAsync(host);
    }

    private Dictionary<string, string?> Settings(string downstreamUri) => new()
    {
        ["Host:CreateInMemoryBrokers"] = "true",
        ["Federation:ClusterName"] = $"{_tag}-local",
        ["Federation:Downstream:uri"] = downstreamUri,
        ["Federation:Upstreams:remote:uri"] = $"memory://federator:{UpstreamSecret}@{_tag}-remote/%2f",
        ["Federation:Upstreams:remote:max-hops"] = "1",
        ["Federation:Policies:fed:pattern"] = $"^federated\\.{_tag}\\.",
        ["Federation:Policies:fed:apply-to"] = "exchanges",
        ["Federation:Policies:fed:definition:federation-upstream-set"] = "all",
        [DownstreamDownListing.DebugAttempts.Key] = DownstreamDownListing.DebugAttempts.Value,
    };

    private string GoodUri() => AmqpUri("amqp", "127.0.0.1", Node.AmqpPort, OneRabbitMqNodeFixture.Password, "%2f");

    private string BadUri(Bad bad) => bad switch
    {
        Bad.ClosedPort => AmqpUri("amqp", "127.0.0.1", FreePorts.Next(), OneRabbitMqNodeFixture.Password, "%2f"),
        Bad.WrongPassword => AmqpUri("amqp", "127.0.0.1", Node.AmqpPort, WrongPassword, "%2f"),
        Bad.UnknownVhost => AmqpUri("amqp", "127.0.0.1", Node.AmqpPort, OneRabbitMqNodeFixture.Password, "no-such-vhost"),
        Bad.UnresolvableHost => AmqpUri("amqp", "nosuchhost.invalid", Node.AmqpPort, OneRabbitMqNodeFixture.Password, "%2f"),
        Bad.AmqpsToPlainPort => AmqpUri("amqps", "127.0.0.1", Node.AmqpPort, OneRabbitMqNodeFixture.Password, "%2f"),
        _ => throw new ArgumentOutOfRangeException(nameof(bad)),
    };

    // What the downstream's error names in each case, as the AMQP transport reports it.
    private static string Problem(Bad bad) => bad switch
    {
        Bad.ClosedPort => "Connection refused",
        Bad.WrongPassword => "ACCESS_REFUSED",
        Bad.UnknownVhost => "vhost no-such-vhost not found",
        Bad.UnresolvableHost => "nosuchhost.invalid",
        Bad.AmqpsToPlainPort => "the port answers plain AMQP, not TLS",
        _ => throw new ArgumentOutOfRangeException(nameof(bad)),
    };

    private string AmqpUri(string scheme, string hostName, int port, string password, string vhost) =>
        $"{scheme}://{OneRabbitMqNodeFixture.User}:{password}@{hostName}:{Port(port)}/{vhost}?management-port={Port(Node.ManagementPort)}&connection_timeout=10000";

    private async Task DeclareAsync(IEnumerable<string> exchanges)
    {
        var factory = new ConnectionFactory { HostName = "127.0.0.1", Port = Node.AmqpPort, UserName = "guest", Password = "guest" };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var exchange in exchanges)
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Topic, durable: true, autoDelete: false);
        }
    }

    private static string[] Ids(IEnumerable<System.Text.Json.JsonElement> links) => [.. links.Select(l => l.GetProperty("id").GetString()!).Order(StringComparer.Ordinal)];

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
