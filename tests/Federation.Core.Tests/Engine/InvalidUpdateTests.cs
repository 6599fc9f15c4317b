using Federation.Core.Links;
using Federation.Core.Model;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Issue 9: an invalid <see cref="FederationEngine.UpdateAsync"/> is refused whole. It throws listing every error, every
/// running link keeps running, nothing is deleted upstream (the buffered messages stay in the upstream queue), and the
/// next good update applies as usual.
/// </summary>
public sealed class InvalidUpdateTests : IAsyncLifetime
{
    private const string UpstreamQueue = "federation: upstream -> D:fed.downstream";

    private readonly Testbed _bed = new();
    private HeldConfirmsTransport? _transport;

    public Task InitializeAsync()
    {
        // Confirms are held so that, with prefetch-count 1, messages stay buffered in the upstream queue.
        _bed.WrapTransport = inner => _transport = new HeldConfirmsTransport(inner);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var confirm in _transport?.Held ?? [])
        {
            confirm.TrySetResult();
        }

        await _bed.DisposeAsync();
    }

    /// <summary>The running configuration of <see cref="Testbed.StartSimpleLinkAsync"/>, with a buffer of one message.</summary>
    private static FederationOptions Running() =>
        new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U", u => { u.Exchange = "upstream"; u.PrefetchCount = 1; })
            .Policy("fed", "^fed\\.", upstream: "u");

    public static TheoryData<string, Func<FederationOptions>, string[]> InvalidUpdates => new()
    {
        { "empty configuration ({})", () => new FederationOptions(), [FederationDefinitions.DownstreamRequired] },
        { "no downstream", () => { var o = Running(); o.Downstream.Uri = null; return o; }, [FederationDefinitions.DownstreamRequired] },
        { "policy naming a missing upstream", () => Running().Policy("fed", "^fed\\.", upstream: "uu"),
            ["Policies:fed:definition:federation-upstream: 'uu' names no defined upstream (defined: u)"] },
        { "bad pattern", () => Running().Policy("fed", "^(fed)\\.\\1", upstream: "u"), ["Policies:fed:pattern: '^(fed)\\.\\1' cannot be matched in linear time"] },
        { "unknown scheme", () => Running().Upstream("u", "U", u => u.Uris = ["amqp://U/%2f"]),
            ["Upstreams:u:uri: 'amqp://U/%2f' has no registered transport (registered: memory)"] },
        { "several mistakes at once", () => { var o = Running().Policy("fed", "(?=fed)", set: "missing"); o.Downstream.Uri = null; return o; },
            [FederationDefinitions.DownstreamRequired, "Policies:fed:pattern: '(?=fed)' cannot be matched in linear time", "Policies:fed:definition:federation-upstream-set: 'missing' names no defined upstream set"] },
    };

    [Theory]
    [MemberData(nameof(InvalidUpdates))]
    public async Task An_invalid_update_throws_keeps_every_link_running_and_deletes_nothing_upstream(
        string mistake, Func<FederationOptions> invalid, string[] expectedErrors)
    {
        var (engine, queue) = await _bed.StartSimpleLinkAsync(u => u.PrefetchCount = 1);
        await PublishUpstreamAsync(3);
        await Testbed.Eventually(() => _transport!.Held.Count == 1 && UpstreamMessages == 2, () => $"{_transport!.Held.Count} held, {UpstreamMessages} buffered");
        var before = Assert.Single(engine.GetLinks());

        var e = await Assert.ThrowsAsync<FederationConfigurationException>(() => engine.UpdateAsync(invalid(), CancellationToken.None));

        Assert.Equal(expectedErrors.Length, e.Errors.Count);
        for (var i = 0; i < expectedErrors.Length; i++)
        {
            Assert.True(e.Errors[i].StartsWith(expectedErrors[i], StringComparison.Ordinal), $"{mistake}: error {i} is '{e.Errors[i]}'");
        }

        var after = Assert.Single(engine.GetLinks());
        Assert.Equal((LinkState.Running, before.Id, before.Since), (after.State, after.Id, after.Since));
        Assert.True(engine.IsDownstreamConnected);
        Assert.True(_bed.Broker("U").QueueExists("/", UpstreamQueue));
        Assert.Equal(2, UpstreamMessages);

        // Still the same link: releasing the confirm lets the buffer drain to the downstream queue.
        _transport!.Held[0].SetResult();
        await Testbed.Eventually(() => _transport!.Held.Count == 2, () => $"{_transport!.Held.Count} held");
        _transport!.Held[1].SetResult();
        await Testbed.Eventually(() => _transport!.Held.Count == 3, () => $"{_transport!.Held.Count} held");
        _transport!.Held[2].SetResult();
        await queue.ExpectAsync("m0", "m1", "m2");

        // The next good update applies: removing the policy on purpose stops the link and deletes its upstream queue.
        await engine.UpdateAsync(new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }.Upstream("u", "U", u => u.Exchange = "upstream"), CancellationToken.None);
        Assert.Empty(engine.GetLinks());
        Assert.False(_bed.Broker("U").QueueExists("/", UpstreamQueue));
    }

    [Fact]
    public async Task A_good_update_after_a_refused_one_changes_the_links()
    {
        var (engine, _) = await _bed.StartSimpleLinkAsync();
        await Assert.ThrowsAsync<FederationConfigurationException>(() =>
            engine.UpdateAsync(Running().Upstream("v", "V").Policy("fed", "^fed\\.", set: "both"), CancellationToken.None));
        Assert.Equal(["u"], engine.GetLinks().Select(l => l.Upstream));

        _bed.Broker("V");
        var good = Running().Upstream("v", "V").Set("both", Fixture.Element("u", "upstream"), Fixture.Element("v")).Policy("fed", "^fed\\.", set: "both");
        await engine.UpdateAsync(good, CancellationToken.None);

        await Testbed.WaitForRunningLinksAsync(engine, 2);
        Assert.Equal(["u", "v"], engine.GetLinks().Select(l => l.Upstream).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_constructor_refuses_what_an_update_refuses()
    {
        var invalid = Running().Policy("fed", "^fed\\.", upstream: "uu");

        var e = Assert.Throws<FederationConfigurationException>(() => new FederationEngine(invalid, [_bed.Transport]));

        Assert.Equal(["Policies:fed:definition:federation-upstream: 'uu' names no defined upstream (defined: u)"], e.Errors);
    }

    private int UpstreamMessages => _bed.Broker("U").GetMessageCount("/", UpstreamQueue);

    private async Task PublishUpstreamAsync(int count)
    {
        var publisher = await _bed.ConnectAsync("U");
        for (var i = 0; i < count; i++)
        {
            await Testbed.PublishAsync(publisher, "upstream", "key", $"m{i}");
        }
    }
}
