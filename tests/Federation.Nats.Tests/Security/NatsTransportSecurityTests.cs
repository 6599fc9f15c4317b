using System.Globalization;
using Federation.Core;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Federation.Nats.Messaging;
using Federation.Nats.Transport;
using Federation.Testing.Brokers;

namespace Federation.Nats.Tests.Security;

/// <summary>
/// TLS and login on every NATS link, through the public seam: <see cref="NatsTransport.ConnectAsync"/>, and a
/// <see cref="FederationEngine"/> link from a secured upstream into a plain downstream. A right URI connects and the
/// link runs; a wrong one fails (the link in <see cref="LinkState.Error"/>) with a message that names the cause, and no
/// secret appears in the exception, the status or the logs.
/// </summary>
/// <remarks>
/// Tests with the trait <c>needs=official-client</c> need the transport on NATS.Client.Core that applies
/// <see cref="NatsConnectionOptions.Apply(NatsUriSettings, NATS.Client.Core.NatsOpts)"/> and describes failures with <see cref="NatsSecurityFailure.Describe"/>.
/// </remarks>
public sealed class NatsTransportSecurityTests(NatsSecurityLab lab) : IClassFixture<NatsSecurityLab>, IAsyncLifetime
{
    private const string NeedsOfficialClient = "official-client";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    // Between two checks of a deadline-bounded poll; never a wait for the behaviour itself.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private readonly CapturingLoggerFactory _logs = new();
    private readonly List<IAsyncDisposable> _resources = [];

    public static TheoryData<NatsSecurityMode, string> UserInfoLogins => new()
    {
        { NatsSecurityMode.UserPassword, "nats://{user}:{password}@{host}" },
        { NatsSecurityMode.Token, "nats://{token}@{host}" },
    };

    public static TheoryData<NatsSecurityMode, string> KeyedSettings => new()
    {
        { NatsSecurityMode.Tls, "tls://{host}?cacertfile={ca}" },
        { NatsSecurityMode.Tls, "nats://{host}?cacertfile={ca}" },
        { NatsSecurityMode.Tls, "tls://{host}?verify=verify_none" },
        { NatsSecurityMode.MutualTls, "tls://{host}?cacertfile={ca}&certfile={cert}&keyfile={key}" },
        { NatsSecurityMode.MutualTls, "tls://{host}?cacertfile={ca}&certfile={combined}" },
        { NatsSecurityMode.NKey, "nats://{host}?nkey-seed-file={seedfile}" },
        { NatsSecurityMode.Creds, "nats://{host}?creds-file={creds}" },
    };

    /// <summary>Wrong settings, whether the transport throws <see cref="AuthenticationFailedException"/>, and what the message must say.</summary>
    public static TheoryData<NatsSecurityMode, string, bool, string> Refused => new()
    {
        { NatsSecurityMode.Tls, "tls://{host}", false, "TLS certificate was not accepted: unknown CA: the certificate 'CN=127.0.0.1' (issued by 'CN=Federation Test CA') is not signed by a CA in this machine's trust store" },
        { NatsSecurityMode.Tls, "tls://{host}?cacertfile={untrustedca}", false, "TLS certificate was not accepted: untrusted CA: the certificate 'CN=127.0.0.1' (issued by 'CN=Federation Test CA') is not signed by a CA in 'cacertfile'" },
        { NatsSecurityMode.ExpiredTls, "tls://{token}@{host}?cacertfile={ca}", false, "TLS certificate was not accepted: expired: the certificate 'CN=127.0.0.1' was valid until 2020-01-02 00:00:00Z" },
        { NatsSecurityMode.WrongHostTls, "tls://{user}:{password}@{host}?cacertfile={ca}", false, "TLS certificate was not accepted: host name mismatch: the certificate 'CN=elsewhere.federation.test' is not valid for '127.0.0.1', the host this URI connects to" },
        { NatsSecurityMode.MutualTls, "tls://{host}?cacertfile={ca}", false, "the server requires a client certificate and none was sent (sslv3 alert bad certificate): set 'certfile' and 'keyfile'" },
        { NatsSecurityMode.MutualTls, "tls://{host}?cacertfile={ca}&certfile={untrustedcert}&keyfile={untrustedkey}", false, "the client certificate was refused by the server (sslv3 alert bad certificate): the certificate 'CN=federation-intruder' in 'certfile' (issued by 'CN=Federation Untrusted CA') is not signed by a CA the server trusts" },
        { NatsSecurityMode.Token, "tls://{token}@{host}", false, "the server does not offer TLS, and this URI requires it" },
        { NatsSecurityMode.UserPassword, "nats://{user}:{wrong}@{host}", true, "refused the login (Authorization Violation): check the user and password" },
        { NatsSecurityMode.Token, "nats://{wrong}@{host}", true, "refused the login (Authorization Violation): check the token" },
        { NatsSecurityMode.NKey, "nats://{host}?nkey-seed-file={strangerseedfile}", true, "refused the login (Authorization Violation): the server does not know the nkey of the seed in 'nkey-seed-file'" },
        { NatsSecurityMode.Creds, "nats://{host}?creds-file={strangercreds}", true, "refused the login (Authorization Violation): the server does not accept the user JWT in 'creds-file'" },
    };

    /// <summary>Refused server certificates, one per cause, and what the message must say.</summary>
    public static TheoryData<NatsSecurityMode, string, string> CertificateRefused => new()
    {
        { NatsSecurityMode.Tls, "tls://{user}:{password}@{host}?cacertfile={untrustedca}", "untrusted CA: the certificate 'CN=127.0.0.1' (issued by 'CN=Federation Test CA') is not signed by a CA in 'cacertfile'" },
        { NatsSecurityMode.ExpiredTls, "tls://{token}@{host}?cacertfile={ca}", "expired: the certificate 'CN=127.0.0.1' was valid until 2020-01-02 00:00:00Z" },
        { NatsSecurityMode.WrongHostTls, "tls://{user}:{password}@{host}?cacertfile={ca}", "host name mismatch: the certificate 'CN=elsewhere.federation.test' is not valid for '127.0.0.1'" },
        { NatsSecurityMode.MutualTls, "tls://{host}?cacertfile={ca}&certfile={untrustedcert}&keyfile={untrustedkey}", "the client certificate was refused by the server" },
    };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (var i = _resources.Count - 1; i >= 0; i--)
        {
            await _resources[i].DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(UserInfoLogins))]
    public Task Transport_connects_with_user_info_credentials(NatsSecurityMode mode, string template) => ConnectsAsync(mode, template);

    [Theory]
    [Trait("needs", NeedsOfficialClient)]
    [MemberData(nameof(KeyedSettings))]
    public Task Transport_connects_with_tls_and_file_keys(NatsSecurityMode mode, string template) => ConnectsAsync(mode, template);

    [Theory]
    [Trait("needs", NeedsOfficialClient)]
    [MemberData(nameof(Refused))]
    public async Task Transport_refuses_wrong_settings_naming_the_cause_without_a_secret(NatsSecurityMode mode, string template, bool loginRefused, string cause)
    {
        var uri = OfficialClientSecurityTests.UriFor(lab, await lab.ServerAsync(mode), template);

        var error = await Assert.ThrowsAnyAsync<BrokerUnreachableException>(async () =>
            await new NatsTransport().ConnectAsync(new ConnectionRequest(uri, "security-test"), CancellationToken.None));

        Assert.Equal(loginRefused, error is AuthenticationFailedException);
        Assert.Contains(cause, error.Message, StringComparison.Ordinal);
        SecretAssert.NoneIn(lab, error.ToString(), "the exception");
    }

    [Theory]
    [Trait("needs", NeedsOfficialClient)]
    [MemberData(nameof(CertificateRefused))]
    public async Task Subject_transport_names_why_a_certificate_was_refused_without_a_secret(NatsSecurityMode mode, string template, string cause)
    {
        // The Collectives' connections: the same connect, the same message, under the subject transport's own URI rules.
        var uri = OfficialClientSecurityTests.UriFor(lab, await lab.ServerAsync(mode), template);

        var error = await Assert.ThrowsAnyAsync<BrokerUnreachableException>(async () =>
            await new NatsSubjectTransport(_logs).ConnectAsync(new SubjectConnectionRequest(uri, "security-test"), CancellationToken.None));

        Assert.Contains(cause, error.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:" + (await lab.ServerAsync(mode)).Port.ToString(CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        SecretAssert.NoneIn(lab, error.ToString(), "the exception");
        SecretAssert.NoneIn(lab, _logs.Text, "the transport's log");
    }

    [Theory]
    [MemberData(nameof(UserInfoLogins))]
    public Task Link_runs_with_user_info_credentials(NatsSecurityMode mode, string template) => LinkRunsAsync(mode, template);

    [Theory]
    [Trait("needs", NeedsOfficialClient)]
    [MemberData(nameof(KeyedSettings))]
    public Task Link_runs_with_tls_and_file_keys(NatsSecurityMode mode, string template) => LinkRunsAsync(mode, template);

    [Theory]
    [Trait("needs", NeedsOfficialClient)]
    [MemberData(nameof(Refused))]
    public async Task Link_with_wrong_settings_is_in_error_naming_the_cause_without_a_secret(NatsSecurityMode mode, string template, bool loginRefused, string cause)
    {
        _ = loginRefused;
        var engine = await StartEngineAsync(OfficialClientSecurityTests.UriFor(lab, await lab.ServerAsync(mode), template));

        LinkStatus? link = null;
        await EventuallyAsync(() => (link = engine.GetLinks().SingleOrDefault()) is { State: LinkState.Error, Error: not null }, () => $"the link in error; have {Describe(engine)}");

        Assert.Contains(cause, link!.Error, StringComparison.Ordinal);
        SecretAssert.NoneIn(lab, link.Error, "the link's error");
        SecretAssert.NoneIn(lab, link.Uri, "the link's URI");
        SecretAssert.NoneIn(lab, _logs.Text, "the engine's log");
    }

    private async Task ConnectsAsync(NatsSecurityMode mode, string template)
    {
        var uri = OfficialClientSecurityTests.UriFor(lab, await lab.ServerAsync(mode), template);

        var connection = await new NatsTransport().ConnectAsync(new ConnectionRequest(uri, "security-test"), CancellationToken.None);
        await connection.DisposeAsync();
    }

    private async Task LinkRunsAsync(NatsSecurityMode mode, string template)
    {
        var engine = await StartEngineAsync(OfficialClientSecurityTests.UriFor(lab, await lab.ServerAsync(mode), template));

        await EventuallyAsync(() => engine.GetLinks() is [{ State: LinkState.Running }], () => $"the link running; have {Describe(engine)}");
        SecretAssert.NoneIn(lab, Describe(engine), "the link's status");
        SecretAssert.NoneIn(lab, _logs.Text, "the engine's log");
    }

    /// <summary>An engine federating <c>orders</c> from <paramref name="upstreamUri"/> into a new plain nats-server.</summary>
    private async Task<FederationEngine> StartEngineAsync(string upstreamUri)
    {
        var downstream = await NatsServerProcess.StartAsync("-n", "plain-downstream");
        _resources.Add(downstream);
        var port = downstream.MonitorPort.ToString(CultureInfo.InvariantCulture);
        var options = new FederationOptions { Downstream = { Uri = $"{downstream.Url}?cluster-name=B&monitor-port={port}&monitor-interval-ms=50&namespaces=orders" } };
        options.Upstreams["up"] = new UpstreamDefinition { Uris = { upstreamUri + (upstreamUri.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "cluster-name=A&namespaces=orders" } };
        options.Policies["fed"] = new FederationPolicy { Pattern = "^orders$", Definition = new FederationPolicyDefinition { FederationUpstream = "up" } };
        var engine = new FederationEngine(options, [new NatsTransport()], _logs);
        _resources.Add(engine);
        await engine.StartAsync(CancellationToken.None);
        return engine;
    }

    private static string Describe(FederationEngine engine) =>
        string.Join(", ", engine.GetLinks().Select(l => $"{l.Uri} {l.State} {l.Error}"));

    private static async Task EventuallyAsync(Func<bool> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting for " + describe());
            }

            await Task.Delay(PollInterval);
        }
    }
}
