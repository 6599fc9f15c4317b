using System.Globalization;
using Federation.Amqp.IntegrationTests.Scenarios;
using Federation.Core.Links;
using Federation.Core.Model;
using Xunit.Abstractions;

namespace Federation.Amqp.IntegrationTests.Tls;

/// <summary>
/// Federation links whose upstream URI uses the TLS keys, end to end: the required-client-certificate node is the
/// upstream (over TLS), the optional one the downstream (plain AMQP).
/// </summary>
[Collection(TlsNodesCollection.Name)]
public sealed class TlsFederationTests(TlsNodesFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ScenarioContext context = new();

    private TestCertificates Files => fixture.Certificates;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();

    [Fact]
    public async Task Link_over_amqps_with_a_client_certificate_and_EXTERNAL_federates_messages()
    {
        var exchange = ScenarioContext.UniqueName("fed.tls");
        await context.DeclareExchangeAsync(fixture.Optional, exchange);
        context.DeleteLater(fixture.Required, exchange);
        var queue = await context.BindQueueAsync(fixture.Optional, exchange, "key");
        var upstreamUri = UpstreamUri(Files.CaFile, $"&certfile={Escape(Files.ClientCertFile)}&keyfile={Escape(Files.ClientKeyFile)}&auth_mechanism=external");

        var engine = await context.StartEngineAsync(Options(exchange, upstreamUri));
        await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Running);

        var connections = await TlsNodesFixture.Ctl(fixture.Required, "list_connections", "user", "auth_mechanism", "ssl");
        Assert.Contains(connections.Split('\n'), row => row.Contains(TestCertificates.ClientUser, StringComparison.Ordinal) && row.Contains("EXTERNAL", StringComparison.Ordinal) && row.Contains("true", StringComparison.Ordinal));
        await Management.WaitAsync(() => Management.FederationKeysAsync(fixture.Required, exchange), keys => keys.SequenceEqual(["key"]), "the binding should propagate upstream");
        var publisher = await context.ChannelAsync(fixture.Required);
        await ScenarioContext.PublishAsync(publisher, exchange, "key", "OVER-TLS");
        await queue.ExpectAsync("OVER-TLS");
    }

    [Fact]
    public async Task Link_whose_cacertfile_did_not_sign_the_server_is_in_error_naming_the_certificate()
    {
        var exchange = ScenarioContext.UniqueName("fed.tls.wrongca");
        await context.DeclareExchangeAsync(fixture.Optional, exchange);
        var upstreamUri = UpstreamUri(Files.OtherCaFile, $"&certfile={Escape(Files.ClientCertFile)}&keyfile={Escape(Files.ClientKeyFile)}&auth_mechanism=external");

        var engine = await context.StartEngineAsync(Options(exchange, upstreamUri));
        var failed = await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Error);

        output.WriteLine($"link error: {failed.Error}");
        Assert.Contains("is not signed by a CA in cacertfile", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Link_without_a_client_certificate_where_the_server_requires_one_is_in_error()
    {
        var exchange = ScenarioContext.UniqueName("fed.tls.nocert");
        await context.DeclareExchangeAsync(fixture.Optional, exchange);
        var upstreamUri = UpstreamUri(Files.CaFile, string.Empty);

        var engine = await context.StartEngineAsync(Options(exchange, upstreamUri));
        var failed = await ScenarioContext.WaitForLinkAsync(engine, exchange, LinkState.Error);

        output.WriteLine($"link error: {failed.Error}");
        Assert.Contains("TLS handshake", failed.Error, StringComparison.Ordinal);
        Assert.Contains("set certfile and keyfile", failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("guest:", failed.Error, StringComparison.Ordinal);
    }

    private static string Escape(string path) => Uri.EscapeDataString(path);

    /// <summary>
    /// The upstream over TLS. The management API (which declares the internal exchange upstream) stays plain http with
    /// the default user: the TLS keys apply to the AMQP connection only.
    /// </summary>
    private string UpstreamUri(string caFile, string rest) =>
        $"amqps://127.0.0.1:{fixture.RequiredTlsPort.ToString(CultureInfo.InvariantCulture)}/?cacertfile={Escape(caFile)}{rest}"
        + $"&topology=none&management-scheme=http&management-port={fixture.Required.ManagementPort.ToString(CultureInfo.InvariantCulture)}&connection_timeout=5000";

    private FederationOptions Options(string exchange, string upstreamUri)
    {
        var options = ScenarioContext.Options(fixture.Optional, exchange, ("tls", fixture.Required, null));
        options.Upstreams["tls"].Uris.Clear();
        options.Upstreams["tls"].Uris.Add(upstreamUri);
        return options;
    }
}
