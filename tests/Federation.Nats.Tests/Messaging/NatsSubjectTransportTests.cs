using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Federation.Core.Hosting;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Federation.Nats.Tests.Messaging;

/// <summary>NATS-specific behaviour of the subject transport: registration, URIs, errors, reconnects and logging.</summary>
public sealed class NatsSubjectTransportTests(NatsServerFixture fixture) : IClassFixture<NatsServerFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public void AddNatsSubjectTransport_RegistersItOnce_AndAddNatsTransportRegistersItToo()
    {
        var services = new ServiceCollection();
        services.AddNatsSubjectTransport().AddNatsSubjectTransport();
        var viaBuilder = new ServiceCollection();
        viaBuilder.AddFederation().AddNatsTransport();

        // A factory registration (it carries the NatsOpts callback): once per collection, and it builds a NatsSubjectTransport.
        var registered = Assert.Single(services, d => d.ServiceType == typeof(ISubjectTransport));
        Assert.Single(viaBuilder, d => d.ServiceType == typeof(ISubjectTransport));
        Assert.IsType<NatsSubjectTransport>(registered.ImplementationFactory!(NoServices.Instance));
        Assert.Equal(["nats", "tls"], new NatsSubjectTransport().Schemes);
    }

    [Fact]
    public void ValidateUri_NamesAMissingFile_AndAcceptsAUsableUri()
    {
        var transport = new NatsSubjectTransport();
        var missing = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.pem");

        var problem = Assert.Single(transport.ValidateUri($"tls://user:s3cret@127.0.0.1:4222?cacertfile={missing}"));

        Assert.Contains("cacertfile", problem, StringComparison.Ordinal);
        Assert.Contains("the file does not exist", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", problem, StringComparison.Ordinal);
        // Nor the path: the redacted URI in the same sentence masks it, as for exchange links.
        Assert.DoesNotContain(missing, problem, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", problem, StringComparison.Ordinal);
        Assert.Empty(transport.ValidateUri("nats://127.0.0.1:4222?reconnect-wait-ms=50"));
    }

    [Fact]
    public async Task TheConnection_IsNamedOnTheServer_AndReportsItsServerWithoutCredentials()
    {
        var name = $"collective-broker-{Guid.NewGuid():N}";
        await using var connection = await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest($"nats://user:secret@127.0.0.1:{fixture.Server.Port}", name), CancellationToken.None);

        using var http = new HttpClient();
        using var connz = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{fixture.Server.MonitorPort}/connz")));
        var names = connz.RootElement.GetProperty("connections").EnumerateArray()
            .Select(c => c.TryGetProperty("name", out var n) ? n.GetString() : null);
        Assert.Contains(name, names);
        Assert.Equal($"nats://127.0.0.1:{fixture.Server.Port}", connection.ConnectedServer);
        Assert.Equal($"nats://127.0.0.1:{fixture.Server.Port}", connection.DisplayUri);
    }

    [Fact]
    public async Task AnUnreachableServer_FailsWithBrokerUnreachable_WithoutCredentials()
    {
        await using var server = await NatsServerProcess.StartAsync();
        var port = server.Port;
        await server.StopAsync();

        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest($"nats://user:secret@127.0.0.1:{port}?connect-timeout-ms=1000", "t"), CancellationToken.None));

        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefusedCredentials_FailWithAuthenticationFailed_WithoutCredentials()
    {
        await using var server = await NatsServerProcess.StartAsync("--user", "broker", "--pass", "right-password");

        var error = await Assert.ThrowsAsync<AuthenticationFailedException>(async () =>
            await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest($"nats://broker:wrong-password@127.0.0.1:{server.Port}", "t"), CancellationToken.None));
        await using var accepted = await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest($"nats://broker:right-password@127.0.0.1:{server.Port}", "t"), CancellationToken.None);

        Assert.DoesNotContain("wrong-password", error.Message, StringComparison.Ordinal);
        Assert.NotNull(accepted.ConnectedServer);
    }

    [Theory]
    [InlineData("nats://127.0.0.1:4222?max-reconect-attempts=3", "max-reconect-attempts")]
    [InlineData("nats://127.0.0.1:4222?reconnect-wait-ms=soon", "reconnect-wait-ms")]
    [InlineData("nats://127.0.0.1:4222?max-reconnect-attempts=-2", "max-reconnect-attempts")]
    [InlineData("nats://user:secret@127.0.0.1:4222?reconnect-wait-ms=50&reconnect-wait-ms=60", "the query key 'reconnect-wait-ms' more than once")]
    [InlineData("amqp://user:secret@127.0.0.1:4222", "amqp://127.0.0.1:4222")]
    public async Task ABadUri_IsRejected_NamingTheOffendingPart_WithoutCredentials(string uri, string named)
    {
        var error = await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
            await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(uri, "t"), CancellationToken.None));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFileGoneAfterValidation_FailsTheConnectNamingItsKey_NotAsAnInvalidUri()
    {
        // As for exchange links (bbtls black-box run): the file is checked before anything connects, so no server is needed.
        var transport = new NatsSubjectTransport();
        var ca = Path.Combine(Path.GetTempPath(), $"vanishing-{Guid.NewGuid():N}.pem");
        using (var key = System.Security.Cryptography.ECDsa.Create())
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=vanishing CA", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllTextAsync(ca, certificate.ExportCertificatePem());
        }

        var uri = $"tls://user:s3cret@127.0.0.1:4222?connect-timeout-ms=2000&cacertfile={ca}";
        Assert.Empty(transport.ValidateUri(uri)); // as when it was configured
        File.Delete(ca);

        var error = await Assert.ThrowsAsync<BrokerUnreachableException>(async () =>
            await transport.ConnectAsync(new SubjectConnectionRequest(uri, "t"), CancellationToken.None));

        Assert.Contains("cannot be used now", error.Message, StringComparison.Ordinal);
        Assert.Contains("'cacertfile': the file does not exist", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(ca, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMessageOverMaxPayload_FailsWithPublishNacked()
    {
        await using var connection = await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(fixture.Server.Url, "t"), CancellationToken.None);

        var error = await Assert.ThrowsAsync<PublishNackedException>(async () =>
            await connection.PublishAsync(new SubjectMessage("too.large", new byte[(1024 * 1024) + 1]), CancellationToken.None));

        Assert.Contains("'too.large'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeadersInterleavedByName_ComeBackGroupedByName_InFirstAppearanceOrder()
    {
        await using var connection = await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(fixture.Server.Url, "t"), CancellationToken.None);
        var received = new TaskCompletionSource<SubjectMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subject = $"headers.{Guid.NewGuid():N}";
        await using var subscription = await connection.SubscribeAsync(subject, null, (m, _) => { received.TrySetResult(m); return ValueTask.CompletedTask; }, CancellationToken.None);

        await connection.PublishAsync(new SubjectMessage(subject, ReadOnlyMemory<byte>.Empty, [new("a", "1"), new("b", "2"), new("a", "3")]), CancellationToken.None);

        var message = await received.Task.WaitAsync(Patience);
        Assert.Equal([new("a", "1"), new("a", "3"), new("b", "2")], message.Headers);
    }

    [Fact]
    public async Task AfterAServerRestart_SubscriptionsResume_PublishingFailsFastWhileDown_AndCompletionStaysOpen()
    {
        await using var server = await NatsServerProcess.StartAsync();
        var uri = $"{server.Url}?reconnect-wait-ms=50";
        await using var subscriber = await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(uri, "subscriber"), CancellationToken.None);
        await using var publisher = await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(uri, "publisher"), CancellationToken.None);
        var received = new ConcurrentQueue<string>();
        await subscriber.SubscribeAsync("restart.>", "workers", (m, _) => { received.Enqueue(Encoding.UTF8.GetString(m.Body.Span)); return ValueTask.CompletedTask; }, CancellationToken.None);
        await publisher.PublishAsync(new SubjectMessage("restart.a", Encoding.UTF8.GetBytes("before")), CancellationToken.None);
        await Eventually.TrueAsync(() => received.Count == 1, "the first message", Patience);

        await server.StopAsync();
        await Eventually.TrueAsync(() => publisher.ConnectedServer is null, "the publisher notices the loss", Patience);
        var down = await Assert.ThrowsAsync<ConnectionLostException>(async () =>
            await publisher.PublishAsync(new SubjectMessage("restart.a", Encoding.UTF8.GetBytes("while-down")), CancellationToken.None));
        await server.StartAsync();
        await Eventually.TrueAsync(() => subscriber.ConnectedServer is not null && publisher.ConnectedServer is not null, "both reconnect", Patience);
        await subscriber.FlushAsync(CancellationToken.None);
        await publisher.PublishAsync(new SubjectMessage("restart.b", Encoding.UTF8.GetBytes("after")), CancellationToken.None);

        await Eventually.TrueAsync(() => received.Count == 2, "the message after the restart", Patience);
        Assert.Equal(["before", "after"], received);
        Assert.Contains("'restart.a'", down.Message, StringComparison.Ordinal);
        Assert.False(subscriber.Completion.IsCompleted);
        Assert.False(publisher.Completion.IsCompleted);
    }

    [Fact]
    public async Task GivingUpReconnecting_FaultsCompletion_SignalsHandlers_AndLaterCallsFail()
    {
        await using var server = await NatsServerProcess.StartAsync();
        await using var connection = await new NatsSubjectTransport().ConnectAsync(
            new SubjectConnectionRequest($"nats://user:secret@127.0.0.1:{server.Port}?max-reconnect-attempts=1&reconnect-wait-ms=20&connect-timeout-ms=500", "t"), CancellationToken.None);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handlerCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await connection.SubscribeAsync(
            "lost",
            null,
            async (_, token) =>
            {
                entered.TrySetResult();
                await Task.Delay(Timeout.Infinite, token).ContinueWith(_ => handlerCancelled.TrySetResult(), TaskScheduler.Default);
            },
            CancellationToken.None);
        await connection.PublishAsync(new SubjectMessage("lost", ReadOnlyMemory<byte>.Empty), CancellationToken.None);
        await entered.Task.WaitAsync(Patience);

        await server.StopAsync();

        var error = await Assert.ThrowsAsync<ConnectionLostException>(() => connection.Completion.WaitAsync(Patience));
        await handlerCancelled.Task.WaitAsync(Patience);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await connection.SubscribeAsync("lost.again", null, (_, _) => ValueTask.CompletedTask, CancellationToken.None));
        await Assert.ThrowsAsync<ConnectionLostException>(async () => await connection.PublishAsync(new SubjectMessage("lost", ReadOnlyMemory<byte>.Empty), CancellationToken.None));
    }

    [Fact]
    public async Task AFailingHandler_IsLoggedWithItsSubject_AndCounted()
    {
        var logs = new CapturingLoggerFactory();
        await using var connection = await new NatsSubjectTransport(logs).ConnectAsync(new SubjectConnectionRequest(fixture.Server.Url, "logged"), CancellationToken.None);
        var subject = $"logged.{Guid.NewGuid():N}";
        await connection.SubscribeAsync(subject, null, (_, _) => throw new InvalidOperationException("boom"), CancellationToken.None);

        await connection.PublishAsync(new SubjectMessage(subject, ReadOnlyMemory<byte>.Empty), CancellationToken.None);
        await connection.PublishAsync(new SubjectMessage(subject, ReadOnlyMemory<byte>.Empty), CancellationToken.None);

        await Eventually.TrueAsync(() => ((NatsSubjectConnection)connection).HandlerErrors == 2, "two handler failures", Patience);
        var entries = logs.Entries.Where(e => e.Exception is InvalidOperationException).ToList();
        Assert.Equal(2, entries.Count);
        Assert.All(entries, e => Assert.Contains(subject, e.Message, StringComparison.Ordinal));
        Assert.All(entries, e => Assert.Equal(LogLevel.Warning, e.Level));
    }

    [Fact]
    public async Task AHandlerThatWaits_DoesNotStallTheConnectionsOtherSubscriptions_AndKeepsItsOrder()
    {
        // Handlers run on the client's read loop while they complete synchronously; one that waits moves to its own queue.
        await using var connection = await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(fixture.Server.Url, "t"), CancellationToken.None);
        var slowSubject = $"slow.{Guid.NewGuid():N}";
        var fastSubject = $"fast.{Guid.NewGuid():N}";
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowSeen = new ConcurrentQueue<string>();
        var fastSeen = 0;
        await using var slow = await connection.SubscribeAsync(
            slowSubject,
            null,
            async (m, token) =>
            {
                var body = Encoding.UTF8.GetString(m.Body.Span);
                slowSeen.Enqueue(body);
                if (body == "0")
                {
                    await release.Task.WaitAsync(token);
                }
            },
            CancellationToken.None);
        await using var fast = await connection.SubscribeAsync(fastSubject, null, (_, _) => { Interlocked.Increment(ref fastSeen); return ValueTask.CompletedTask; }, CancellationToken.None);

        for (var i = 0; i < 50; i++)
        {
            await connection.PublishAsync(new SubjectMessage(slowSubject, Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture))), CancellationToken.None);
        }

        await connection.PublishAsync(new SubjectMessage(fastSubject, ReadOnlyMemory<byte>.Empty), CancellationToken.None);
        await Eventually.TrueAsync(() => Volatile.Read(ref fastSeen) == 1, "the other subscription's message while the first handler waits", Patience);
        Assert.Equal(["0"], slowSeen);

        release.SetResult();
        await Eventually.TrueAsync(() => slowSeen.Count == 50, "every queued message once the handler returns", Patience);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), slowSeen);
        Assert.Equal(0, ((NatsSubjectConnection)connection).DroppedMessages);
    }

    [Fact]
    public async Task AHandlerThatFlushesItsOwnConnection_DoesNotDeadlock()
    {
        // A flush needs the server's PONG, which the read loop reads: the handler must not hold the read loop while it waits.
        await using var connection = await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(fixture.Server.Url, "t"), CancellationToken.None);
        var subject = $"flush.{Guid.NewGuid():N}";
        var replies = 0;
        await using var subscription = await connection.SubscribeAsync(
            subject,
            null,
            async (m, token) =>
            {
                await connection.PublishAsync(new SubjectMessage(m.ReplyTo!, m.Body), token);
                await connection.FlushAsync(token);
                Interlocked.Increment(ref replies);
            },
            CancellationToken.None);

        for (var i = 0; i < 20; i++)
        {
            await connection.PublishAsync(new SubjectMessage(subject, ReadOnlyMemory<byte>.Empty, ReplyTo: $"{subject}.reply"), CancellationToken.None);
        }

        await Eventually.TrueAsync(() => Volatile.Read(ref replies) == 20, "every handler's flush", Patience);
    }

    [Fact]
    public async Task WhenASubscriptionsQueueIsFull_TheNewestMessagesAreDropped_CountedAndLogged()
    {
        var logs = new CapturingLoggerFactory();
        var transport = new NatsSubjectTransport(logs, opts => opts with { SubPendingChannelCapacity = 4 });
        await using var connection = await transport.ConnectAsync(new SubjectConnectionRequest(fixture.Server.Url, "bounded"), CancellationToken.None);
        var subject = $"bounded.{Guid.NewGuid():N}";
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new ConcurrentQueue<string>();
        var told = new ConcurrentQueue<string>();
        await using var subscription = await connection.SubscribeAsync(
            subject,
            null,
            async (m, token) =>
            {
                seen.Enqueue(Encoding.UTF8.GetString(m.Body.Span));
                await release.Task.WaitAsync(token);
            },
            (reason, count, _) => { for (var i = 0; i < count; i++) { told.Enqueue(reason); } },
            CancellationToken.None);

        for (var i = 0; i < 10; i++)
        {
            await connection.PublishAsync(new SubjectMessage(subject, Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture))), CancellationToken.None);
        }

        // One message in the handler, four queued, five dropped.
        await Eventually.TrueAsync(() => ((NatsSubjectConnection)connection).DroppedMessages == 5, "five drops", Patience);
        release.SetResult();
        await Eventually.TrueAsync(() => seen.Count == 5, "the handled and the queued messages", Patience);
        Assert.Equal(["0", "1", "2", "3", "4"], seen);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains(subject, StringComparison.Ordinal) && e.Message.Contains("subscription queue full", StringComparison.Ordinal));

        // The subscriber was told of each drop, for its own count (a federation broker's error metric).
        Assert.Equal(Enumerable.Repeat("slow_consumer", 5), told);
    }

    [Fact]
    public async Task Messages_still_queued_when_a_subscription_closes_are_counted_and_told_as_stopped()
    {
        // A federation broker's clean stop closes its subscriptions with messages queued behind the one its relay is on:
        // lost (at-most-once, as in Choria), but before they were not counted anywhere.
        await using var connection = await new NatsSubjectTransport().ConnectAsync(new SubjectConnectionRequest(fixture.Server.Url, "stopping"), CancellationToken.None);
        var subject = $"stopping.{Guid.NewGuid():N}";
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var told = new ConcurrentQueue<string>();
        var queued = 0;
        var subscription = await connection.SubscribeAsync(
            subject,
            null,
            async (m, token) =>
            {
                inHandler.TrySetResult();
                await Task.Delay(Timeout.Infinite, token);
            },
            (reason, count, _) => { for (var i = 0; i < count; i++) { told.Enqueue(reason); } },
            CancellationToken.None);

        for (var i = 0; i < 5; i++)
        {
            await connection.PublishAsync(new SubjectMessage(subject, Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture))), CancellationToken.None);
        }

        await inHandler.Task.WaitAsync(Patience);
        await Eventually.TrueAsync(() => (queued = ((NatsSubjectSubscription)subscription).Queued) == 4, "four messages queued behind the one in the handler", Patience);
        await subscription.DisposeAsync();

        Assert.Equal(Enumerable.Repeat("stopped", queued), told);
        Assert.Equal(queued, ((NatsSubjectConnection)connection).DroppedMessages);
    }

    private sealed record LogEntry(LogLevel Level, string Message, Exception? Exception);

    private sealed class CapturingLoggerFactory : ILoggerFactory, ILogger
    {
        private readonly ConcurrentQueue<LogEntry> _entries = new();

        public IReadOnlyList<LogEntry> Entries => [.. _entries];

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _entries.Enqueue(new LogEntry(logLevel, formatter(state, exception), exception));
    }
}
