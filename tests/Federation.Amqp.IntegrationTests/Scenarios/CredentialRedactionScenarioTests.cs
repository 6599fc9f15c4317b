using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Federation.Core.Links;

namespace Federation.Amqp.IntegrationTests.Scenarios;

/// <summary>
/// RabbitMQ's refusals name the user (<c>access to exchange 'x' in vhost '/' refused for user 'alice'</c>). Whatever path
/// such a text takes into a link's status or the logs, the upstream's user name and password are not in it.
/// </summary>
[Collection(FederationNodesCollection.Name)]
public sealed class CredentialRedactionScenarioTests(FederationNodesFixture nodes) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task A_refused_no_wait_binding_puts_the_link_in_error_without_the_user_name_or_password_in_status_or_logs()
    {
        var exchange = ScenarioContext.UniqueName("fed.refused");
        var user = $"RefusedBinder{Guid.NewGuid():N}"[..21];
        var password = $"Pw-{Guid.NewGuid():N}"[..16];
        await context.DeclareExchangeAsync(nodes.Downstream, exchange);
        await context.DeclareExchangeAsync(nodes.Upstream, exchange);
        await context.BindQueueAsync(nodes.Downstream, exchange, "key");

        // Everything the link needs upstream but read on the upstream exchange, which binding from it takes (a 403). The
        // management tag: internal exchanges are declared through the management API.
        Assert.Equal(0, (await nodes.Upstream.CtlAsync(CancellationToken.None, "add_user", user, password)).ExitCode);
        Assert.Equal(0, (await nodes.Upstream.CtlAsync(CancellationToken.None, "set_user_tags", user, "management")).ExitCode);
        Assert.Equal(0, (await nodes.Upstream.CtlAsync(CancellationToken.None, "set_permissions", user, ".*", ".*", $"^(?!{Regex.Escape(exchange)}$).*")).ExitCode);
        try
        {
            // bind-nowait: the refusal closes the channel with nobody waiting, and the connection is declared lost with it.
            var options = ScenarioContext.Options(nodes.Downstream, exchange, ("up", nodes.Upstream, u => u.BindNowait = true));
            options.Upstreams["up"].Uris[0] = nodes.Upstream.AmqpUri(user: user, password: password);
            var logs = new CapturedLogs();
            var engine = await context.StartEngineAsync(options, loggerFactory: logs);

            var seen = new ConcurrentBag<string>();
            var failed = await Poll.UntilAsync(
                () =>
                {
                    var link = engine.GetLinks().FirstOrDefault(l => l.Exchange == exchange);
                    if (link?.Error is { } error)
                    {
                        seen.Add(error);
                    }

                    return Task.FromResult(link is { State: LinkState.Error, Error: { } e } && e.Contains("no-wait binding command failed", StringComparison.Ordinal) ? link : null);
                },
                $"the link should fail on the refused no-wait binding; errors seen: {string.Join(" | ", seen.Distinct())}",
                TimeSpan.FromSeconds(60));

            Assert.Contains("403", failed.Error, StringComparison.Ordinal);
            Assert.Contains("refused for user '<redacted>'", failed.Error, StringComparison.Ordinal);
            foreach (var text in seen.Append(logs.Text))
            {
                Assert.DoesNotContain(user, text, StringComparison.Ordinal);
                Assert.DoesNotContain(password, text, StringComparison.Ordinal);
            }
        }
        finally
        {
            await nodes.Upstream.CtlAsync(CancellationToken.None, "delete_user", user);
        }
    }
    [Fact]
    public async Task A_downstream_user_refused_the_event_vhost_is_not_named_in_the_downstream_error_health_or_logs()
    {
        // The topology source listens in the event vhost ('/' by default); a user with rights on its own vhost only is refused
        // there with 530 NOT_ALLOWED "access to vhost '/' refused for user '...'". A short name, masked as a whole word.
        var vhost = ScenarioContext.UniqueName("vh.down");
        var exchange = ScenarioContext.UniqueName("fed.eventvhost");
        var user = $"u{Guid.NewGuid():N}"[..6];
        var password = $"Pw-{Guid.NewGuid():N}"[..16];
        Assert.Equal(0, (await nodes.Downstream.CtlAsync(CancellationToken.None, "add_vhost", vhost)).ExitCode);
        Assert.Equal(0, (await nodes.Downstream.CtlAsync(CancellationToken.None, "add_user", user, password)).ExitCode);
        Assert.Equal(0, (await nodes.Downstream.CtlAsync(CancellationToken.None, "set_user_tags", user, "management")).ExitCode);
        Assert.Equal(0, (await nodes.Downstream.CtlAsync(CancellationToken.None, "set_permissions", "-p", vhost, user, ".*", ".*", ".*")).ExitCode);
        try
        {
            var options = ScenarioContext.Options(nodes.Downstream, exchange, ("up", nodes.Upstream, null));
            options.Downstream.Uri = nodes.Downstream.AmqpUri(virtualHost: vhost, user: user, password: password);
            var logs = new CapturedLogs();
            var engine = await context.StartEngineAsync(options, loggerFactory: logs);

            string error;
            try
            {
                error = await Poll.UntilAsync(
                    () => Task.FromResult(engine.DownstreamError is { } e && e.Contains("vhost '/'", StringComparison.Ordinal) ? e : null),
                    "the downstream should report the refused event vhost",
                    TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException timeout)
            {
                throw new TimeoutException($"{timeout.Message}; logs: {logs.Text}", timeout);
            }

            Assert.Contains("refused for user '<redacted>'", error, StringComparison.Ordinal);
            foreach (var text in new[] { error, logs.Text })
            {
                Assert.DoesNotContain($"'{user}'", text, StringComparison.Ordinal);
                Assert.DoesNotContain(password, text, StringComparison.Ordinal);
            }
        }
        finally
        {
            await nodes.Downstream.CtlAsync(CancellationToken.None, "delete_user", user);
            await nodes.Downstream.CtlAsync(CancellationToken.None, "delete_vhost", vhost);
        }
    }
}
