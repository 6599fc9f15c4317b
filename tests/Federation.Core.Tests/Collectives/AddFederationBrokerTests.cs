using System.Text;
using Federation.Core.Collectives;
using Federation.Core.Hosting;
using Federation.Core.InMemory.Subjects;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Federation.Core.Tests.Collectives;

/// <summary>Federation brokers in a host: configuration, several clusters in one process, validation at start.</summary>
public sealed class AddFederationBrokerTests
{
    private static IHost BuildHost(Dictionary<string, string?> settings, Action<HostApplicationBuilder> register)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        register(builder);
        return builder.Build();
    }

    [Fact]
    public async Task Two_hosts_with_one_configuration_get_different_default_instance_names_with_the_process_id()
    {
        // As two processes with one configuration on one machine: the former default, <machine>-<name>, was the same for both.
        var registry = new InMemorySubjectServerRegistry();
        registry.Add(new InMemorySubjectServer("fed"));
        registry.Add(new InMemorySubjectServer("london"));
        var settings = new Dictionary<string, string?>
        {
            ["FederationBrokers:london:FederationUri"] = "memory://fed",
            ["FederationBrokers:london:CollectiveUri"] = "memory://london",
        };
        using var first = BuildHost(settings, builder =>
        {
            builder.Services.AddSingleton(registry);
            builder.Services.AddFederationBroker(builder.Configuration.GetSection("FederationBrokers:london"));
        });
        using var second = BuildHost(settings, builder =>
        {
            builder.Services.AddSingleton(registry);
            builder.Services.AddFederationBroker(builder.Configuration.GetSection("FederationBrokers:london"));
        });

        await first.StartAsync();
        await second.StartAsync();
        try
        {
            var names = new[] { first, second }
                .Select(host => Assert.Single(host.Services.GetRequiredService<FederationBrokerInstances>().GetBrokers()).InstanceName)
                .ToList();

            Assert.NotEqual(names[0], names[1]);
            Assert.All(names, name => Assert.StartsWith($"{Environment.MachineName}-london-{Environment.ProcessId}", name, StringComparison.Ordinal));
            // The options show the name in use once the instance runs (a status page matches options to instances by it).
            Assert.Equal(names[0], first.Services.GetRequiredService<IOptionsMonitor<FederationBrokerOptions>>().Get("london").InstanceName);
        }
        finally
        {
            await second.StopAsync();
            await first.StopAsync();
        }
    }

    [Fact]
    public async Task Options_checked_on_a_throwaway_provider_take_no_default_instance_name_from_the_instance_that_runs()
    {
        // As FederationHost's start-up check does, and an embedder may: before 7 Dec 2026 resolving the options took the
        // process's first default name of the registration, and the instance that ran was "<machine>-<name>-<pid>-2".
        const string name = "checked_first";
        var registry = new InMemorySubjectServerRegistry();
        registry.Add(new InMemorySubjectServer("fed"));
        registry.Add(new InMemorySubjectServer("london"));
        var settings = new Dictionary<string, string?>
        {
            [$"FederationBrokers:{name}:FederationUri"] = "memory://fed",
            [$"FederationBrokers:{name}:CollectiveUri"] = "memory://london",
        };
        using (var check = BuildHost(settings, builder =>
        {
            builder.Services.AddSingleton(registry);
            builder.Services.AddFederationBroker(builder.Configuration.GetSection($"FederationBrokers:{name}"));
        }))
        {
            Assert.Null(check.Services.GetRequiredService<IOptionsMonitor<FederationBrokerOptions>>().Get(name).InstanceName);
        }

        using var host = BuildHost(settings, builder =>
        {
            builder.Services.AddSingleton(registry);
            builder.Services.AddFederationBroker(builder.Configuration.GetSection($"FederationBrokers:{name}"));
        });
        await host.StartAsync();
        try
        {
            var broker = Assert.Single(host.Services.GetRequiredService<FederationBrokerInstances>().GetBrokers());
            Assert.Equal($"{Environment.MachineName}-{name}-{Environment.ProcessId}", broker.InstanceName);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Brokers_bound_from_configuration_join_a_collective_to_two_federations()
    {
        var registry = new InMemorySubjectServerRegistry();
        foreach (var server in new[] { "emea", "global", "london" })
        {
            registry.Add(new InMemorySubjectServer(server));
        }

        using var host = BuildHost(new()
        {
            ["FederationBrokers:london_emea:FederationUri"] = "memory://emea",
            ["FederationBrokers:london_emea:CollectiveUri"] = "memory://london",
            ["FederationBrokers:london_global:FederationUri"] = "memory://global",
            ["FederationBrokers:london_global:CollectiveUri"] = "memory://london",
            ["FederationBrokers:london_global:Workers"] = "2",
        }, builder =>
        {
            builder.Services.AddSingleton(registry);
            foreach (var section in builder.Configuration.GetSection("FederationBrokers").GetChildren())
            {
                builder.Services.AddFederationBroker(section);
            }
        });

        await host.StartAsync();
        try
        {
            var resolver = host.Services.GetRequiredService<SubjectTransportResolver>();
            var node = await resolver.ConnectAsync("memory://london", "node", CancellationToken.None);
            await node.SubscribeAsync("mcollective.node.web1", null, (r, t) => node.ReplyAsync(r, Encoding.UTF8.GetBytes("pong"), null, t), CancellationToken.None);
            foreach (var (server, cluster) in new[] { ("emea", "london_emea"), ("global", "london_global") })
            {
                var client = new FederatedClient(await resolver.ConnectAsync($"memory://{server}", "client", CancellationToken.None));
                var result = await client.RequestAsync(new FederatedRequest
                {
                    Federations = [cluster], Targets = ["mcollective.node.web1"], ExpectedReplies = 1, Timeout = CollectivesTestbed.Deadline,
                }, CancellationToken.None);
                Assert.True(result.Completed, cluster);
                Assert.StartsWith($"{Environment.MachineName}-{cluster}-{Environment.ProcessId}", FederatedMessages.GetSeenBy(result.Replies[0])[1].Processor, StringComparison.Ordinal);
            }

            // One collective connection per broker (workers are subscriptions), plus the node's.
            Assert.Equal(3, registry.GetOrAdd("london").ConnectionCount);
        }
        finally
        {
            await host.StopAsync();
        }

        Assert.Equal(1, registry.GetOrAdd("london").ConnectionCount); // the brokers closed theirs; the node's is left
    }

    [Fact]
    public async Task Invalid_options_fail_the_host_start_naming_each_key_and_value_without_credentials()
    {
        using var host = BuildHost(new()
        {
            ["FederationBrokers:bad:ClusterName"] = "lon.don",
            ["FederationBrokers:bad:FederationUri"] = "nats-without-scheme",
            ["FederationBrokers:bad:CollectiveUri"] = "",
            ["FederationBrokers:bad:MaxHops"] = "many",
            ["FederationBrokers:bad:Workers"] = "0",
            ["FederationBrokers:bad:MaxTargets"] = "0",
            ["FederationBrokers:bad:TargetPattern"] = "([",
        }, builder => builder.Services.AddFederationBroker(builder.Configuration.GetSection("FederationBrokers:bad")));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("FederationBrokers:bad:ClusterName: 'lon.don' must be one subject token", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:bad:FederationUri: 'nats-without-scheme' is not a URI", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:bad:CollectiveUri: '' is required", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:bad:MaxHops: 'many' is not an integer", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:bad:Workers: '0' must be from 1 to 1024", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:bad:MaxTargets: '0' must be at least 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:bad:TargetPattern: '([' is not a valid regular expression", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_keys_range_errors_and_unserved_schemes_come_in_one_report()
    {
        using var host = BuildHost(new()
        {
            ["FederationBrokers:b:FederationUri"] = "natz://127.0.0.1:4222",
            ["FederationBrokers:b:CollectiveUri"] = "memory://london",
            ["FederationBrokers:b:Envelop"] = "choria",
            ["FederationBrokers:b:Workers"] = "100000000", // would subscribe for ever before serving
            ["FederationBrokers:b:MaxHops"] = "many",
        }, builder =>
        {
            var registry = new InMemorySubjectServerRegistry();
            registry.Add(new InMemorySubjectServer("london"));
            builder.Services.AddSingleton(registry);
            builder.Services.AddFederationBroker(builder.Configuration.GetSection("FederationBrokers:b"));
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("FederationBrokers:b:Envelop: is not a federation broker setting", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:b:MaxHops: 'many' is not an integer", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:b:Workers: '100000000' must be from 1 to 1024", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:b:FederationUri: No subject transport serves scheme 'natz'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("FederationBrokers:b:CollectiveUri", error.Message, StringComparison.Ordinal); // a registered server is fine
    }

    [Fact]
    public async Task An_unknown_scheme_names_the_redacted_uri_and_the_missing_registration()
    {
        using var host = BuildHost([], builder => builder.Services.AddFederationBroker("london", o =>
        {
            o.FederationUri = "nats://user:s3cret@fed:4222";
            o.CollectiveUri = "memory://london";
        }));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("FederationBrokers:london:FederationUri: No subject transport serves scheme 'nats' (nats://fed:4222)", error.Message, StringComparison.Ordinal);
        Assert.Contains("AddNatsSubjectTransport", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Both_uris_with_unserved_schemes_are_named_at_start_together()
    {
        using var host = BuildHost(new()
        {
            ["FederationBrokers:b:FederationUri"] = "amqq://127.0.0.1:4222",
            ["FederationBrokers:b:CollectiveUri"] = "natz://127.0.0.1:4222",
        }, builder => builder.Services.AddFederationBroker(builder.Configuration.GetSection("FederationBrokers:b")));

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("FederationBrokers:b:FederationUri: No subject transport serves scheme 'amqq'", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:b:CollectiveUri: No subject transport serves scheme 'natz'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unregistered_or_malformed_in_memory_server_fails_the_start_naming_the_key_and_the_server()
    {
        // Options are validated when the broker starts, which is when it would connect: a server must be registered by
        // then either way, so the typo is reported against its key instead of as the first connect's exception.
        var registry = new InMemorySubjectServerRegistry();
        registry.Add(new InMemorySubjectServer("london"));
        using var host = BuildHost(new()
        {
            ["FederationBrokers:b:FederationUri"] = "memory://user:s3cret@globl",
            ["FederationBrokers:b:CollectiveUri"] = "memory://london?verify=none",
        }, builder =>
        {
            builder.Services.AddSingleton(registry);
            builder.Services.AddFederationBroker(builder.Configuration.GetSection("FederationBrokers:b"));
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("FederationBrokers:b:FederationUri: No in-memory subject server named 'globl' is registered (registered: 'london')", error.Message, StringComparison.Ordinal);
        Assert.Contains("FederationBrokers:b:CollectiveUri: has the query key 'verify'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_memory_servers_registered_after_the_host_is_built_are_found_at_start()
    {
        var registry = new InMemorySubjectServerRegistry();
        using var host = BuildHost([], builder =>
        {
            builder.Services.AddSingleton(registry);
            builder.Services.AddFederationBroker("late", o =>
            {
                o.FederationUri = "memory://late-federation";
                o.CollectiveUri = "memory://late-collective";
            });
        });
        registry.GetOrAdd("late-federation");
        registry.GetOrAdd("late-collective");

        await host.StartAsync();
        try
        {
            Assert.Equal(1, registry.GetOrAdd("late-collective").ConnectionCount);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public void Registering_the_same_broker_name_twice_fails()
    {
        var services = new ServiceCollection();
        services.AddFederationBroker("london");
        var error = Assert.Throws<ArgumentException>(() => services.AddFederationBroker("london"));
        Assert.Contains("'london'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_subject_transports_registered_in_DI_are_resolved_by_scheme()
    {
        var services = new ServiceCollection();
        services.AddSingleton<ISubjectTransport, FakeNatsTransport>();
        services.AddFederationBroker("london");
        using var provider = services.BuildServiceProvider();

        var resolver = provider.GetRequiredService<SubjectTransportResolver>();

        Assert.IsType<FakeNatsTransport>(resolver.Resolve("nats://fed:4222"));
        Assert.IsType<InMemorySubjectTransport>(resolver.Resolve("memory://fed"));
        Assert.Single(provider.GetServices<ISubjectTransport>().OfType<InMemorySubjectTransport>());
    }

    private sealed class FakeNatsTransport : ISubjectTransport
    {
        public IReadOnlyCollection<string> Schemes { get; } = ["nats"];

        public ValueTask<ISubjectConnection> ConnectAsync(SubjectConnectionRequest request, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
