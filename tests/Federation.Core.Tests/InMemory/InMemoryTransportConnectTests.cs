using Federation.Core.InMemory;
using Federation.Core.Transport;
using Xunit;

namespace Federation.Core.Tests.InMemory;

public sealed class InMemoryTransportConnectTests
{
    private const string Password = "s3cr3t-p4ss";

    private readonly InMemoryBrokerRegistry registry = new();
    private readonly InMemoryTransport transport;
    private readonly InMemoryBroker broker;

    public InMemoryTransportConnectTests()
    {
        transport = new InMemoryTransport(registry);
        broker = registry.GetOrAdd("hub", clusterName: "hub-cluster");
        broker.AddVirtualHost("orders");
        broker.AddVirtualHost("a/b");
    }

    [Fact]
    public async Task An_unregistered_broker_is_unreachable_and_the_error_names_the_registered_ones_and_how_to_register()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest($"memory://admin:{Password}@london/%2f", "c"), CancellationToken.None));

        Assert.StartsWith("No in-memory broker named 'london' is registered (memory://", error.Message, StringComparison.Ordinal);
        Assert.Contains("; registered: 'hub'). Register it", error.Message, StringComparison.Ordinal);
        Assert.Contains("Register it with InMemoryBrokerRegistry.GetOrAdd (in a host, on the registry AddFederation registers, or on one passed to UseInMemoryBrokers)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("memory://hub", "/")]
    [InlineData("memory://hub/", "/")]
    [InlineData("memory://hub/%2f", "/")]
    [InlineData("memory://hub/%2F", "/")]
    [InlineData("memory://hub/orders", "orders")]
    [InlineData("memory://guest:guest@hub/orders", "orders")]
    [InlineData("memory://HUB/a%2Fb", "a/b")]
    public async Task Connect_ResolvesTheVirtualHostFromThePath(string uri, string expectedVirtualHost)
    {
        await using var connection = await transport.ConnectAsync(new ConnectionRequest(uri, "c"), CancellationToken.None);

        Assert.Equal(expectedVirtualHost, connection.VirtualHost);
        Assert.Equal(UriRedaction.Redact(uri), connection.DisplayUri);
        Assert.Equal("hub-cluster", connection.ClusterName);
        Assert.Equal(["memory"], transport.Schemes);
    }

    [Fact]
    public async Task Connect_ReportsTheClusterNameTheBrokerHasAtConnectTime()
    {
        broker.ClusterName = "renamed";

        await using var connection = await transport.ConnectAsync(new ConnectionRequest("memory://hub", "c"), CancellationToken.None);

        Assert.Equal("renamed", connection.ClusterName);
    }

    [Fact]
    public async Task Connect_ToUnknownBroker_NamesTheBrokerButNotThePassword()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest($"memory://admin:{Password}@nowhere/", "c"), CancellationToken.None));

        Assert.Contains("nowhere", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_ToUnknownVirtualHost_NamesTheVirtualHostButNotThePassword()
    {
        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest($"memory://admin:{Password}@hub/missing-vhost", "c"), CancellationToken.None));

        Assert.Contains("missing-vhost", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData($"amqp://admin:{Password}@hub/")]
    [InlineData($"memory://admin:{Password}@/vhost")]
    [InlineData($"admin:{Password}@hub")]
    public async Task Connect_WithMalformedUri_ThrowsArgumentExceptionWithoutThePassword(string uri)
    {
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest(uri, "c"), CancellationToken.None));

        Assert.DoesNotContain(Password, error.Message, StringComparison.Ordinal);
        Assert.Contains("URI", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Users_OnceAdded_AreRequired_AndWrongPasswordsAreRefusedWithoutEchoingThem()
    {
        broker.AddUser("admin", Password);

        await using var ok = await transport.ConnectAsync(new ConnectionRequest($"memory://admin:{Password}@hub", "c"), CancellationToken.None);
        var wrong = await Assert.ThrowsAsync<AuthenticationFailedException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest("memory://admin:not-it@hub", "c"), CancellationToken.None));
        await Assert.ThrowsAsync<AuthenticationFailedException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest("memory://hub", "c"), CancellationToken.None));
        await Assert.ThrowsAsync<AuthenticationFailedException>(async () => await broker.ConnectAsync());

        // Neither the password nor the user is echoed: in memory://TOKEN@hub the user part may be a token.
        Assert.Contains("ACCESS_REFUSED", wrong.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-it", wrong.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("admin", wrong.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutUsers_AnyCredentialsAreAccepted()
    {
        await using var connection = await transport.ConnectAsync(new ConnectionRequest("memory://whoever:whatever@hub", "c"), CancellationToken.None);

        Assert.Equal("memory://hub", connection.DisplayUri);
    }

    [Fact]
    public void Registry_RefusesDuplicateNames_AndGetOrAddReturnsTheExistingBroker()
    {
        Assert.Same(broker, registry.GetOrAdd("HUB"));
        Assert.Throws<ArgumentException>(() => registry.Add(new InMemoryBroker("hub")));
        Assert.True(registry.TryGet("hub", out var found));
        Assert.Same(broker, found);
        Assert.False(registry.TryGet("other", out _));
    }
}
