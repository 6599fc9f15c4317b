using System.Text;
using Federation.Amqp;
using Federation.Core.Collectives;
using Federation.Core.Hosting;
using Federation.Core.Transport.Messaging;
using Federation.Nats;
using Federation.Testing.Brokers;
using Federation.Transport.Contracts.Secrets;
using FsCheck.Fluent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NATS.Client.Core;

namespace FederationHost.Tests;

/// <summary>
/// Secrets made of every reserved character, in upstream URIs of every transport pointing at a closed loopback port,
/// never appear in anything the host writes: <c>/federation/links</c>, <c>/health</c>, <c>/metrics</c>, the log (messages,
/// structured values and exceptions), start-up errors and the errors of a rejected reload.
/// </summary>
[Collection(InProcessMetricsCollection.Name)]
public sealed class SecretLeakTests
{
    // One secret with every reserved character, and random ones (a new sample each run, as a property test would draw).
    private static readonly string[] Secrets =
        ["S3cr/?#@:[]%&=+, ;!$'()*üé😀Zq", .. SecretUris.Secret.Sample(30, 2)];

    // Query keys an operator may put a secret under; every transport refuses them (only the user-info logs in).
    private static readonly string[] SecretQueryKeys = ["password", "token", "nkey", "creds"];

    [Fact]
    public async Task Secrets_in_upstream_uris_never_reach_links_health_metrics_or_logs()
    {
        var closed = FreePorts.Next();
        var settings = RunningHost.DefaultSettings("leak");
        settings["Logging:LogLevel:Default"] = "Debug";
        settings["Logging:LogLevel:Microsoft"] = "Warning";
        settings["Federation:Policies:fed:definition:federation-upstream-set"] = "all";
        var failing = new List<string>();
        for (var i = 0; i < Secrets.Length; i++)
        {
            var encoded = Uri.EscapeDataString(Secrets[i]);
            string Add(string name, string uri)
            {
                settings[$"Federation:Upstreams:{name}{i}:uri"] = uri;
                settings[$"Federation:Upstreams:{name}{i}:reconnect-delay"] = "1";
                // Each its own upstream exchange: upstreams that reach one broker with one exchange would share a queue (refused).
                settings[$"Federation:Upstreams:{name}{i}:exchange"] = name + i;
                return name + i;
            }

            failing.Add(Add("amqp-password", $"amqp://user:{encoded}@127.0.0.1:{closed}/%2f?connection_timeout=500"));
            failing.Add(Add("amqp-user", $"amqps://{encoded}:pw@127.0.0.1:{closed}/vh?connection_timeout=500"));
            // A secret in the query (?password=...) is refused at validation, which the refused-start test covers.
            failing.Add(Add("nats-token", $"nats://{encoded}@127.0.0.1:{closed}"));
            failing.Add(Add("tls-password", $"tls://user:{encoded}@127.0.0.1:{closed}?cluster-name=x"));
            Add("memory-password", $"memory://user:{encoded}@leak-remote/%2f");
        }

        var logs = new CapturedLogs();
        await using var host = await RunningHost.StartAsync(settings, logs: logs);
        await using var app = await host.DeclareExchangeAsync("leak-local", "federated.orders");

        await Eventually.UntilAsync(
            () => host.GetLinksAsync(),
            links => failing.All(name => links.Any(l => l.GetProperty("upstream").GetString() == name && l.GetProperty("state").GetString() == "error")),
            "every link to the closed port in error");

        var outputs = new StringBuilder();
        outputs.AppendLine(await host.Http.GetStringAsync("/federation/links"));
        outputs.AppendLine(await host.Http.GetStringAsync("/federation/links?only-down=true"));
        foreach (var link in await host.GetLinksAsync())
        {
            outputs.AppendLine(await host.Http.GetStringAsync("/federation/links/" + link.GetProperty("id").GetString()));
        }

        outputs.AppendLine(await (await host.Http.GetAsync("/health")).Content.ReadAsStringAsync());
        outputs.AppendLine(await host.GetMetricsAsync());
        Assert.Contains("BrokerUnreachableException", outputs.ToString(), StringComparison.Ordinal);

        // A reload with the secrets unencoded is refused, and its errors are logged without them.
        host.Configuration.Update(Secrets.Select((secret, i) =>
            new KeyValuePair<string, string?>($"Federation:Upstreams:raw{i}:uri", $"nats://user:{secret}@127.0.0.1:{closed}")));
        await Eventually.UntilAsync(
            () => Task.FromResult(logs.Text), text => text.Contains("Percent-encode the user name and the password", StringComparison.Ordinal), "the rejected reload in the log");

        Assert.Contains("amqp-password0", logs.Text, StringComparison.Ordinal);
        outputs.AppendLine(logs.Text);
        foreach (var secret in Secrets)
        {
            SecretUris.AssertAbsent(secret, outputs.ToString(), "the host's output");
        }
    }

    [Fact]
    public async Task A_start_with_unencoded_secrets_is_refused_without_showing_them()
    {
        var closed = FreePorts.Next();
        var settings = RunningHost.DefaultSettings("leakstart");
        for (var i = 0; i < Secrets.Length; i++)
        {
            settings[$"Federation:Upstreams:amqp{i}:uri"] = $"amqp://user:{Secrets[i]}@127.0.0.1:{closed}/%2f";
            settings[$"Federation:Upstreams:nats{i}:uri"] = $"nats://{Secrets[i]}@127.0.0.1:{closed}";
        }

        // Secrets in the query, raw and encoded, under every key that names one; refused too (only the user-info logs in).
        for (var i = 0; i < Secrets.Length; i++)
        {
            foreach (var key in SecretQueryKeys)
            {
                settings[$"Federation:Upstreams:amqp-{key}{i}:uri"] = $"amqp://127.0.0.1:{closed}/%2f?{key}={Secrets[i]}";
                settings[$"Federation:Upstreams:nats-{key}{i}:uri"] = $"nats://127.0.0.1:{closed}?{key}={Uri.EscapeDataString(Secrets[i])}&cluster-name=x";
            }
        }

        settings["Federation:Downstream:uri"] = $"memory://user:{Secrets[0]}@leakstart-local/%2f";
        var logs = new CapturedLogs();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () => await RunningHost.StartAsync(settings, logs: logs));

        Assert.Contains("Percent-encode the user name and the password", error.Message, StringComparison.Ordinal);
        foreach (var secret in Secrets)
        {
            SecretUris.AssertAbsent(secret, error.ToString(), "the start-up error");
            SecretUris.AssertAbsent(secret, logs.Text, "the log");
        }
    }

    /// <summary>
    /// The Federation of Collectives on every subject transport: brokers whose federation and collective URIs carry a
    /// secret (user-info password, user, token; NATS credentials set through the options callback) and point at a closed
    /// port never show it in <see cref="FederationBroker.ConnectError"/>, the health check or the log; URIs with a secret
    /// in the query, or an unencoded one, are refused without showing it.
    /// </summary>
    [Fact]
    public async Task Secrets_in_collective_uris_never_reach_connect_errors_health_or_logs()
    {
        var closed = FreePorts.Next();
        var logs = new CapturedLogs();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Trace);
        // Credentials in code: used by the NATS URIs without user-info; a client error must not echo them either.
        builder.Services.AddNatsSubjectTransport(o => o with { AuthOpts = new NatsAuthOpts { Username = "code-user", Password = Secrets[0], Token = Secrets[1] } });
        builder.Services.AddAmqpSubjectTransport();
        builder.Services.AddHealthChecks().AddCheck<FederationBrokerHealthCheck>("federation-brokers");
        var names = new List<string>();
        for (var i = 0; i < Secrets.Length; i++)
        {
            var encoded = Uri.EscapeDataString(Secrets[i]);
            void Add(string name, string federation, string collective)
            {
                names.Add(name + i);
                builder.Services.AddFederationBroker(name + i, o => (o.FederationUri, o.CollectiveUri) = (federation, collective));
            }

            Add("nats-amqp", $"nats://user:{encoded}@127.0.0.1:{closed}?connect-timeout-ms=500", $"amqp://user:{encoded}@127.0.0.1:{closed}/%2f?connection_timeout=500");
            Add("tls-amqps", $"tls://{encoded}@127.0.0.1:{closed}?connect-timeout-ms=500", $"amqps://{encoded}:pw@127.0.0.1:{closed}/vh?connection_timeout=500");
            Add("amqp-nats", $"amqp://{encoded}:pw@127.0.0.1:{closed}/%2f?connection_timeout=500", $"nats://127.0.0.1:{closed}?connect-timeout-ms=500");
        }

        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var brokers = host.Services.GetRequiredService<FederationBrokerInstances>();
            await Eventually.UntilAsync(
                () => Task.FromResult(brokers.GetBrokers()),
                all => all.Count == names.Count && all.All(b => b.ConnectError is not null),
                "every broker failed its first connect");

            var outputs = new StringBuilder();
            foreach (var broker in brokers.GetBrokers())
            {
                outputs.AppendLine(broker.ConnectError);
            }

            var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
            outputs.AppendLine(health.Status.ToString());
            foreach (var (name, entry) in health.Entries)
            {
                outputs.AppendLine(name + ": " + entry.Description + " " + string.Join(", ", entry.Data.Select(d => $"{d.Key}={d.Value}")) + " " + entry.Exception);
            }

            Assert.Contains("Could not connect", outputs.ToString(), StringComparison.Ordinal);
            Assert.Contains("nats-amqp0", outputs.ToString(), StringComparison.Ordinal);

            // A secret in the query, or an unencoded one, is refused before anything connects.
            foreach (var secret in Secrets)
            {
                string[] refused =
                [
                    // Unencoded: refused when the user-info reads two ways, which the first secret's characters make sure of.
                    .. secret == Secrets[0] ? new[] { $"nats://user:{secret}@127.0.0.1:{closed}", $"amqp://user:{secret}@127.0.0.1:{closed}/%2f" } : [],
                    .. SecretQueryKeys.SelectMany(key => new[]
                    {
                        $"nats://127.0.0.1:{closed}?{key}={secret}",
                        $"nats://127.0.0.1:{closed}?{key}={Uri.EscapeDataString(secret)}&connect-timeout-ms=500",
                        $"amqp://127.0.0.1:{closed}/%2f?{key}={secret}",
                    }),
                ];
                for (var u = 0; u < refused.Length; u++)
                {
                    var uri = refused[u];
                    // Refused when the options are checked, or at the latest when the broker starts (the transport parses it).
                    var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
                    {
                        await using var broker = new FederationBroker(
                            new FederationBrokerOptions { ClusterName = "refused", FederationUri = uri, CollectiveUri = "memory://refused" },
                            host.Services.GetServices<ISubjectTransport>(),
                            loggerFactory: host.Services.GetRequiredService<ILoggerFactory>());
                        await broker.StartAsync(CancellationToken.None);
                        Assert.Fail($"URI {u} of secret {Array.IndexOf(Secrets, secret)} was not refused");
                    });
                    outputs.AppendLine(error.ToString());
                }
            }

            outputs.AppendLine(logs.Text);
            foreach (var secret in Secrets)
            {
                SecretUris.AssertAbsent(secret, outputs.ToString(), "the Collectives' output");
            }
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Theory]
    [InlineData("http://admin:S3cr/et@127.0.0.1:15690")]
    [InlineData("http://admin:S3cret@127.0.0.1:15690")]
    [InlineData("http://S3cret@10.1.2.3:15690/")]
    public void A_host_url_with_credentials_is_refused_without_repeating_them(string url)
    {
        var error = Assert.Throws<HostConfigurationException>(() => FederationHostApp.Build([], c =>
        {
            c.Sources.Clear();
            c.AddInMemoryCollection([new("Host:Url", url), new("Federation:Downstream:uri", "memory://x/%2f")]);
        }));

        Assert.Contains("Host:Url", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("S3cr", error.Message, StringComparison.Ordinal);
    }
}
