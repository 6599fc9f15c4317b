using Federation.Core.InMemory;
using Federation.Core.Transport;

namespace Federation.Core.Tests.InMemory;

/// <summary><see cref="InMemoryTransport.ValidateUri"/>: what the engine checks when configuration is loaded, without connecting.</summary>
public sealed class InMemoryUriValidationTests
{
    private const string Password = "s3cr3t-pa55";
    private readonly InMemoryTransport transport = new(new InMemoryBrokerRegistry());

    [Theory]
    [InlineData("memory://hub")]
    [InlineData("memory://hub/")]
    [InlineData("memory://hub/%2f")]
    [InlineData($"memory://admin:{Password}@hub/vh")]
    [InlineData("memory://not-created-yet/%2f")]
    public void Well_formed_uris_are_accepted_whether_or_not_the_broker_exists(string uri) => Assert.Empty(transport.ValidateUri(uri));

    [Theory]
    [InlineData("memory://hub/%2f?heartbeat=5", "has the query key 'heartbeat', which memory:// URIs do not understand (they accept none)")]
    [InlineData("memory://hub?x", "has the query key 'x', which memory:// URIs do not understand")]
    [InlineData($"memory://admin:{Password}@/vh", "has no broker name (expected memory://[user:password@]broker[/vhost])")]
    [InlineData($"memory://admin:pa?{Password}@hub", "is ambiguous: the user name or password contains an unencoded")]
    [InlineData($"memory://admin:pa/{Password}@hub/%2f", "is ambiguous: the user name or password contains an unencoded")]
    [InlineData("amqp://hub", "is not a memory:// URI")]
    public void Problems_name_the_offending_part_without_credentials(string uri, string expected)
    {
        var problems = transport.ValidateUri(uri);

        Assert.Contains(expected, Assert.Single(problems), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_rejects_what_validation_rejects()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await transport.ConnectAsync(new ConnectionRequest("memory://hub/%2f?verify=none", "c"), CancellationToken.None));

        Assert.Contains("'verify'", error.Message, StringComparison.Ordinal);
    }
}
