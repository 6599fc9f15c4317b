using Federation.Core.Collectives;
using Federation.Nats.Messaging;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Collectives;

/// <summary>
/// A collective server that comes back refusing the broker's login (its password was changed): the NATS client gives up
/// reconnecting after the second refusal and then neither retries nor closes, so the instance read "reconnecting" for
/// ever and never came back, not even once the password was put right. The subject connection now closes at the
/// refusal, and the broker reconnects with its own backoff, says the login was refused, and comes back once it works.
/// </summary>
public sealed class BrokerRefusedLoginTests
{
    [Fact]
    public async Task A_broker_whose_collective_server_refuses_its_login_after_a_restart_says_so_and_comes_back_once_the_login_works()
    {
        var config = Path.Combine(Path.GetTempPath(), $"refused-login-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(config, "authorization { user: broker, password: right-pw }\n");
        try
        {
            await using var federation = await NatsServerProcess.StartAsync();
            await using var collective = await NatsServerProcess.StartAsync("-c", config);
            var broker = new FederationBroker(
                new FederationBrokerOptions
                {
                    ClusterName = "london",
                    FederationUri = federation.Url,
                    CollectiveUri = $"nats://broker:right-pw@127.0.0.1:{collective.Port}?reconnect-wait-ms=100",
                    InstanceName = "london-1",
                },
                [new NatsSubjectTransport()]);
            await using (broker)
            {
                await broker.StartAsync(CancellationToken.None);
                Assert.True(broker.IsConnected);

                await collective.StopAsync();
                await File.WriteAllTextAsync(config, "authorization { user: broker, password: changed-pw }\n");
                await collective.StartAsync();
                await Eventually.TrueAsync(
                    () => broker.ConnectError?.Contains("refused the login", StringComparison.Ordinal) == true,
                    $"the broker says the collective server refused its login (error: {broker.ConnectError})", TimeSpan.FromSeconds(30));
                Assert.DoesNotContain("right-pw", broker.ConnectError, StringComparison.Ordinal);

                await collective.StopAsync();
                await File.WriteAllTextAsync(config, "authorization { user: broker, password: right-pw }\n");
                await collective.StartAsync();
                await Eventually.TrueAsync(() => broker.IsConnected, "the broker reconnected once its login worked again", TimeSpan.FromSeconds(60));
            }
        }
        finally
        {
            File.Delete(config);
        }
    }
}
