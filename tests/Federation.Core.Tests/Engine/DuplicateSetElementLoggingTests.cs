using Federation.Core.Model;
using Federation.Core.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Tests.Engine;

/// <summary>
/// Identical upstream set elements are used once, and each repeat is logged at warning once per configuration taken
/// (at start and at each update), naming the set and both element positions.
/// </summary>
public sealed class DuplicateSetElementLoggingTests
{
    private const int DuplicateSetElementEvent = 2015;

    private static FederationOptions WithSet(params UpstreamSetElement[] elements) =>
        new FederationOptions { Downstream = { Uri = Testbed.Uri("D") } }
            .Upstream("u", "U")
            .Set("both", elements)
            .Policy("fed", "^fed\\.", set: "both");

    [Fact]
    public async Task Each_identical_element_is_logged_once_per_configuration_naming_the_set_and_positions()
    {
        await using var bed = new Testbed();
        var logs = new CapturingLoggerProvider();
        var repeated = WithSet(Fixture.Element("u", "x"), Fixture.Element("u", "y"), Fixture.Element("u", "x"));

        bed.Broker("D");
        bed.Broker("U");

        await using var engine = new FederationEngine(repeated, [bed.Transport], logs.AsFactory());
        await engine.StartAsync(CancellationToken.None);

        var warning = Assert.Single(logs.WithId(DuplicateSetElementEvent));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal("Upstream set 'both' element 2 (u) is identical to element 0; it is used once (one link per distinct element)", warning.Message);

        // Each configuration taken is reported again; one without repeats adds nothing.
        await engine.UpdateAsync(repeated, CancellationToken.None);
        Assert.Equal(2, logs.WithId(DuplicateSetElementEvent).Count);
        await engine.UpdateAsync(WithSet(Fixture.Element("u", "x"), Fixture.Element("u", "y")), CancellationToken.None);
        Assert.Equal(2, logs.WithId(DuplicateSetElementEvent).Count);
    }
}
