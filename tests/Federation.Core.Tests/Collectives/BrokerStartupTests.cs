using Federation.Core.Collectives;
using Federation.Core.Hosting;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Tests.Support;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Federation.Core.Tests.Collectives;

/// <summary>
/// Operations: a broker whose server is down at start retries in the background with backoff and reports unhealthy, and the
/// in-memory bus refuses server names nobody registered. The backoff runs on a fake clock: no test waits for real time.
/// </summary>
public sealed class BrokerStartupTests
{
    // The first attempt at start, then waits of 1, 2, 4, 8, 16 and 30 s (the cap).
    private static readonly int[] ExpectedAttemptSeconds = [0, 1, 3, 7, 15, 31, 61];

    [Fact]
    public async Task A_server_down_at_start_is_retried_after_1_3_7_15_31_and_61_seconds_then_the_broker_connects()
    {
        await using var testbed = new CollectivesTestbed();
        var time = new FakeTimeProvider();
        var start = time.GetUtcNow();
        var london = testbed.Registry.GetOrAdd("london");
        testbed.Registry.GetOrAdd("fed");
        london.Stop();
        var attempts = new CollectiveConnectRecorder(testbed.Transport, "memory://london", time);
        await using var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = "london", FederationUri = "memory://fed", CollectiveUri = "memory://london", InstanceName = "london-1" },
            [attempts],
            testbed.Telemetry,
            timeProvider: time);

        await broker.StartAsync(CancellationToken.None);

        Assert.False(broker.IsConnected);
        Assert.Contains("'london' is stopped", broker.ConnectError, StringComparison.Ordinal);
        int[] gaps = [1, 2, 4, 8, 16, 30];
        foreach (var gap in gaps)
        {
            var before = attempts.Count;
            await CollectivesTestbed.WaitUntilAsync(() => time.PendingTimers == 1, "the broker waits for its next attempt");
            time.Advance(TimeSpan.FromSeconds(gap) - TimeSpan.FromTicks(1));
            Assert.Equal(before, attempts.Count); // not a tick early
            time.Advance(TimeSpan.FromTicks(1));
            await CollectivesTestbed.WaitUntilAsync(() => attempts.Count == before + 1, $"the attempt {gap} s after the previous one");
        }

        Assert.Equal(ExpectedAttemptSeconds, attempts.Times.Select(t => (int)(t - start).TotalSeconds));
        Assert.False(broker.IsConnected);

        london.Start();
        await CollectivesTestbed.WaitUntilAsync(() => time.PendingTimers == 1, "the broker waits for its next attempt");
        time.Advance(TimeSpan.FromSeconds(30));
        await CollectivesTestbed.WaitUntilAsync(() => broker.IsConnected, "the broker connected once the server was up");
        Assert.Null(broker.ConnectError);
        Assert.Equal(91, (int)(attempts.Times[^1] - start).TotalSeconds);

        // It works: a request goes through.
        await testbed.StartNodesAsync("london", "mcollective", "web1");
        var client = await testbed.ClientAsync("fed");
        var result = await client.RequestAsync(
            new FederatedRequest { Federations = ["london"], Targets = ["mcollective.node.web1"], ExpectedReplies = 1, Timeout = CollectivesTestbed.Deadline },
            CancellationToken.None);
        Assert.True(result.Completed);
    }

    [Fact]
    public async Task In_a_host_an_unreachable_server_does_not_fail_the_start_and_the_health_check_reports_it_until_it_connects()
    {
        var registry = new InMemorySubjectServerRegistry();
        registry.Add(new InMemorySubjectServer("fed"));
        var london = new InMemorySubjectServer("london");
        registry.Add(london);
        london.Stop();
        var time = new FakeTimeProvider();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(registry);
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFederationBroker("london", o =>
        {
            o.FederationUri = "memory://user:s3cret@fed";
            o.CollectiveUri = "memory://user:s3cret@london";
            o.InstanceName = "london-1";
        });
        using var host = builder.Build();
        var check = ActivatorUtilities.CreateInstance<FederationBrokerHealthCheck>(host.Services);

        await host.StartAsync();
        try
        {
            var down = await check.CheckHealthAsync(new HealthCheckContext());
            // Degraded, as an exchange link in error: the instance retries by itself, and restarting the host fixes nothing.
            Assert.Equal(HealthStatus.Degraded, down.Status);
            Assert.Contains("london/london-1", down.Description, StringComparison.Ordinal);
            Assert.Contains("'london' is stopped", down.Description, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cret", down.Description, StringComparison.Ordinal);

            london.Start();
            await CollectivesTestbed.WaitUntilAsync(() => time.PendingTimers == 1, "the broker waits for its next attempt");
            time.Advance(TimeSpan.FromSeconds(1));
            await CollectivesTestbed.WaitUntilAsync(
                () => check.CheckHealthAsync(new HealthCheckContext()).Result.Status == HealthStatus.Healthy, "the health check turns healthy");
        }
        finally
        {
            await host.StopAsync();
        }

        Assert.Empty(host.Services.GetRequiredService<FederationBrokerInstances>().GetBrokers());
    }

    [Fact]
    public async Task The_in_memory_bus_refuses_a_server_name_nobody_registered_naming_it()
    {
        var registry = new InMemorySubjectServerRegistry();
        registry.Add(new InMemorySubjectServer("london"));
        var transport = new InMemorySubjectTransport(registry);

        var error = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await transport.ConnectAsync(new SubjectConnectionRequest("memory://user:s3cret@lodnon", "typo"), CancellationToken.None));

        Assert.Contains("'lodnon'", error.Message, StringComparison.Ordinal);
        Assert.Contains("registered: 'london'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
        Assert.False(registry.TryGet("lodnon", out _)); // nothing was created
    }

    [Fact]
    public async Task A_broker_with_a_misspelt_in_memory_server_fails_the_host_start_naming_the_key_and_the_server()
    {
        var registry = new InMemorySubjectServerRegistry();
        registry.Add(new InMemorySubjectServer("fed"));
        registry.Add(new InMemorySubjectServer("london"));
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(registry);
        builder.Services.AddFederationBroker("london", o =>
        {
            o.FederationUri = "memory://fed";
            o.CollectiveUri = "memory://lodnon";
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("FederationBrokers:london:CollectiveUri: No in-memory subject server named 'lodnon' is registered (registered: 'fed', 'london')", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, registry.GetOrAdd("fed").ConnectionCount);
    }

    /// <summary>Records, on the fake clock, every connect attempt to one URI.</summary>
    private sealed class CollectiveConnectRecorder(ISubjectTransport inner, string uri, TimeProvider time) : ISubjectTransport
    {
        private readonly List<DateTimeOffset> _times = [];

        public IReadOnlyCollection<string> Schemes => inner.Schemes;

        public int Count
        {
            get
            {
                lock (_times)
                {
                    return _times.Count;
                }
            }
        }

        public IReadOnlyList<DateTimeOffset> Times
        {
            get
            {
                lock (_times)
                {
                    return [.. _times];
                }
            }
        }

        public ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken)
        {
            if (request.Uri == uri)
            {
                lock (_times)
                {
                    _times.Add(time.GetUtcNow());
                }
            }

            return inner.ConnectAsync(request, cancellationToken);
        }
    }
}
