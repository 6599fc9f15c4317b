using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Tests.Engine;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Model;

/// <summary>
/// Each transport judges the upstream settings it runs with (<see cref="ITransport.ValidateUpstream"/>): a value it always
/// refuses fails the configuration naming its key, on the upstream or on the set element that sets it, so that start,
/// reload and <c>validate</c> refuse it before any link stops.
/// </summary>
public sealed class TransportUpstreamValidationTests
{
    private static readonly TransportResolver Transports = new([new InMemoryTransport(new InMemoryBrokerRegistry()), new CappedTransport()]);

    private static FederationOptions Options() => new() { Downstream = { Uri = Testbed.Uri("D") } };

    [Fact]
    public void A_prefetch_the_upstreams_transport_refuses_fails_naming_the_key_once_for_all_its_uris()
    {
        var options = Options().Upstream("u", "U", u =>
        {
            u.Uris = ["capped://one", "capped://two"];
            u.PrefetchCount = 11;
        });

        Assert.Equal(["Upstreams:u:prefetch-count: '11' is above capped's limit of 10"], FederationDefinitions.Validate(options, Transports));
    }

    [Fact]
    public void A_set_elements_prefetch_is_judged_by_its_upstreams_transport()
    {
        var options = Options()
            .Upstream("capped", "U", u => u.Uris = ["capped://one"])
            .Upstream("memory", "M")
            .Set("s", new UpstreamSetElement { Upstream = "capped", PrefetchCount = 11 }, new UpstreamSetElement { Upstream = "memory", PrefetchCount = 70000 });

        Assert.Equal(["UpstreamSets:s:0:prefetch-count: '11' is above capped's limit of 10"], FederationDefinitions.Validate(options, Transports));
    }

    /// <summary>A transport that takes at most 10 messages in flight.</summary>
    private sealed class CappedTransport : ITransport
    {
        public IReadOnlyCollection<string> Schemes { get; } = ["capped"];

        public IReadOnlyList<UpstreamSettingProblem> ValidateUpstream(string uri, UpstreamSettings settings) =>
            settings.PrefetchCount is > 10 and var prefetch ? [new(UpstreamSettings.PrefetchCountKey, $"'{prefetch}' is above capped's limit of 10")] : [];

        public ValueTask<IBrokerConnection> ConnectAsync(ConnectionRequest request, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
