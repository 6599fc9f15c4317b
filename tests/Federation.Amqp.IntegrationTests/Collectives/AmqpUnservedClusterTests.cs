using System.Text;
using Federation.Core.Collectives;

namespace Federation.Amqp.IntegrationTests.Collectives;

/// <summary>
/// Over RabbitMQ: a request to a broker cluster nobody serves is returned by RabbitMQ (mandatory publish, basic.return),
/// so the client ends it at once and names the cluster, as over NATS.
/// </summary>
[Collection(AmqpCollectivesCollection.Name)]
public sealed class AmqpUnservedClusterTests(AmqpCollectivesFixture fixture)
{
    [Fact]
    public async Task ARequestToAClusterNobodyServes_EndsAtOnce_NamingIt_WhileAServedOneIsAnswered()
    {
        var (client, connection) = await fixture.OpenClientAsync();
        await using var _ = connection;

        var result = await client.RequestAsync(
            new FederatedRequest
            {
                Federations = ["londn", "london"],
                Targets = [AmqpCollectiveNode.Broadcast],
                Body = Encoding.UTF8.GetBytes($"unserved-{Guid.NewGuid():N}"),
                ExpectedReplies = 2,

                // Far longer than the test may take: only the returned publish can end it in time.
                Timeout = TimeSpan.FromHours(1),
            },
            CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(result.Completed);
        Assert.Equal(["londn"], result.UnservedFederations);
        Assert.Contains("'londn'", result.Reason, StringComparison.Ordinal);

        var alone = await client.RequestAsync(
            new FederatedRequest { Federations = ["londn"], Targets = [AmqpCollectiveNode.Broadcast], ExpectedReplies = 1, Timeout = TimeSpan.FromHours(1) },
            CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(alone.Completed);
        Assert.Equal(["londn"], alone.UnservedFederations);
    }
}
