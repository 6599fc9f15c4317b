using System.Diagnostics;
using System.Globalization;
using Federation.Testing.Brokers;
using Xunit.Abstractions;

namespace FederationHost.Tests;

/// <summary>
/// The durable-mode bar for the host: FederationHost runs as a child process with a JetStream link (the README's
/// <c>jetstream=true</c> keys), is killed with SIGKILL while 100,000 messages cross, and is started again; the downstream
/// stream then holds each message exactly once.
/// </summary>
public sealed class JetStreamHostKillTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Messages = 100_000;
    private const string Exchange = "orders";
    private const string Stream = "federation-" + Exchange;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private NatsServerProcess _upstream = null!;
    private NatsServerProcess _downstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = await NatsServerProcess.StartJetStreamAsync("host-js-up");
        _downstream = await NatsServerProcess.StartJetStreamAsync("host-js-down");
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _downstream.DisposeAsync();
    }

    [Fact]
    public async Task Host_killed_with_sigkill_mid_transfer_and_started_again_loses_and_duplicates_nothing()
    {
        var clock = Stopwatch.StartNew();

        // First run: the link creates its durable consumer upstream; SIGKILL leaves it there (no cleanup runs).
        var host = HostProcess.Start(Settings());
        try
        {
            await JetStreamTestKit.EventuallyAsync(
                async () => await JetStreamTestKit.ConsumersAsync(_upstream, Stream) is [_],
                () => $"the link's durable consumer upstream\n{host.Describe()}",
                Deadline);
        }
        finally
        {
            await host.DisposeAsync(); // SIGKILL
        }

        await JetStreamTestKit.PublishConfirmedAsync(_upstream, Exchange, 0, Messages);
        output.WriteLine($"{clock.Elapsed}: {Messages} stored upstream");

        long count = 0;
        host = HostProcess.Start(Settings());
        try
        {
            await JetStreamTestKit.EventuallyAsync(
                async () => (count = await JetStreamTestKit.CountAsync(_downstream, Stream)) >= Messages / 10,
                () => $"a tenth of the messages downstream; have {count}\n{host.Describe()}",
                Deadline);
        }
        finally
        {
            await host.DisposeAsync(); // SIGKILL mid-transfer
        }

        output.WriteLine($"{clock.Elapsed}: host killed with {count} downstream");
        Assert.True(count < Messages, $"all {count} messages arrived before the host could be killed");

        await using var restarted = HostProcess.Start(Settings());
        await JetStreamTestKit.EventuallyAsync(
            async () => (count = await JetStreamTestKit.CountAsync(_downstream, Stream)) >= Messages
                && await JetStreamTestKit.ConsumersAsync(_upstream, Stream) is [{ NumPending: 0, NumAckPending: 0 }],
            () => $"{Messages} messages downstream and nothing left upstream; have {count}\n{restarted.Describe()}",
            Deadline);
        output.WriteLine($"{clock.Elapsed}: {count} downstream, upstream consumer drained");

        var bodies = await JetStreamTestKit.ReadAllAsync(_downstream, Stream, Messages);
        Assert.Equal(Messages, bodies.Count); // 0 duplicates
        Assert.Equal(Enumerable.Range(0, Messages), bodies.ToHashSet().Order()); // 0 lost
    }

    private string Settings() => $$"""
        {
          "Host": { "Url": "http://127.0.0.1:0", "CreateInMemoryBrokers": false },
          "Logging": { "LogLevel": { "Default": "Warning" } },
          "Federation": {
            "Downstream": { "uri": "nats://127.0.0.1:{{Port(_downstream.Port)}}?cluster-name=host-js-down&monitor-port={{Port(_downstream.MonitorPort)}}&monitor-interval-ms=100&namespaces={{Exchange}}&jetstream=true" },
            "Upstreams": {
              "up": {
                "uri": "nats://127.0.0.1:{{Port(_upstream.Port)}}?cluster-name=host-js-up&jetstream=true&ack-wait-ms=5000",
                "reconnect-delay": 0.2,
                "resource-cleanup-mode": "never"
              }
            },
            "Policies": { "fed": { "pattern": "^{{Exchange}}$", "apply-to": "exchanges", "definition": { "federation-upstream": "up" } } }
          }
        }
        """;

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
