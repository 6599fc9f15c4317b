using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Transport;

namespace Federation.Core.Tests.Links;

/// <summary>
/// Which downstream reloads keep the links (their ids and upstream queues) and which start over: the links keep going
/// exactly when their ids will be the same, judged from the session they run under and what the new settings tell
/// without connecting.
/// </summary>
public sealed class DownstreamChangeTests
{
    // A stand-in for a transport whose URI may carry the name its connections report (NATS cluster-name); a URI naming a
    // file that is gone ("missing") previews as nothing, as NATS' does.
    private static DownstreamPreview? Preview(string uri)
    {
        if (uri.Contains("missing", StringComparison.Ordinal))
        {
            return null;
        }

        var parsed = new Uri(uri);
        var query = parsed.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries);
        var name = query.Select(p => p.Split('=')).FirstOrDefault(p => p[0] == "cluster-name")?[1];
        var path = parsed.AbsolutePath.Trim('/');
        return new DownstreamPreview(name, path.Length == 0 ? "/" : path, []);
    }

    private static FederationDefinitions Definitions(string uri, string? clusterName = null) =>
        FederationDefinitions.Create(new FederationOptions { ClusterName = clusterName, Downstream = { Uri = uri } });

    private static DownstreamChange.Running Running(string uri, string runningName, string? clusterName = null)
    {
        var definitions = Definitions(uri, clusterName);
        return new DownstreamChange.Running(definitions, runningName, "/", DownstreamChange.KnownClusterName(definitions, Preview));
    }

    [Fact]
    public void Rotated_certificate_files_keep_the_links_although_the_old_uri_no_longer_previews()
    {
        var running = Running("memory://nats1/?cluster-name=C&certfile=v1", "C");

        // v1 is gone by the time of the reload: the old URI's preview would say nothing.
        Assert.Null(Preview("memory://nats1/?cluster-name=C&certfile=missing-v1"));
        Assert.True(DownstreamChange.KeepsLinks(running with { Definitions = Definitions("memory://nats1/?cluster-name=C&certfile=missing-v1") }, Definitions("memory://nats1/?cluster-name=C&certfile=v2"), Preview));
    }

    [Theory]
    [InlineData("memory://nats2/?cluster-name=C", true)] // another address, the same name: the same ids
    [InlineData("memory://nats1/?cluster-name=W", false)] // another name on the same server: other ids
    [InlineData("memory://nats1/", false)] // the name taken off: the server's own may differ
    public void A_name_in_the_uri_decides_on_any_host(string after, bool kept) =>
        Assert.Equal(kept, DownstreamChange.KeepsLinks(Running("memory://nats1/?cluster-name=C", "C"), Definitions(after), Preview));

    [Theory]
    [InlineData("memory://b1/?cluster-name=X", true)] // the advertised name, now written down
    [InlineData("memory://other/?cluster-name=X", true)]
    [InlineData("memory://b1/?cluster-name=Y", false)]
    public void A_name_added_counts_against_the_name_the_links_run_under(string after, bool kept) =>
        Assert.Equal(kept, DownstreamChange.KeepsLinks(Running("memory://b1/", "X"), Definitions(after), Preview));

    [Theory]
    [InlineData("memory://rotated:secret@b1/?heartbeat=30", true)] // the same broker reached differently
    [InlineData("memory://b2/", false)] // another broker may advertise another name
    [InlineData("memory://b1/other-vhost", false)]
    public void An_advertised_name_is_kept_on_the_same_broker_only(string after, bool kept) =>
        Assert.Equal(kept, DownstreamChange.KeepsLinks(Running("memory://b1/", "X"), Definitions(after), Preview));

    [Theory]
    [InlineData("memory://b2/", "X", true)] // configured and unchanged: any host, the same vhost
    [InlineData("memory://b2/other-vhost", "X", false)]
    [InlineData("memory://b1/", "Y", false)]
    [InlineData("memory://b1/", null, false)] // taken off: the broker's own name may differ
    public void A_configured_name_decides_with_the_virtual_host(string after, string? clusterName, bool kept) =>
        Assert.Equal(kept, DownstreamChange.KeepsLinks(Running("memory://b1/", "X", clusterName: "X"), Definitions(after, clusterName), Preview));

    [Fact]
    public void A_configured_name_that_equals_the_advertised_one_keeps_the_links() =>
        Assert.True(DownstreamChange.KeepsLinks(Running("memory://b1/", "X"), Definitions("memory://b1/", "X"), Preview));

    [Theory]
    [InlineData("memory://alias-of-b1/", null, true)] // no address shared, no name told: only the broker can tell
    [InlineData("memory://b2/", null, true)]
    [InlineData("memory://rotated:secret@b1/?heartbeat=30", null, false)] // an address shared: KeepsLinks has told
    [InlineData("memory://b2/?cluster-name=X", null, false)] // a name in the URI decides without connecting
    [InlineData("memory://b2/", "X", false)] // so does a configured one
    [InlineData("memory://b2/other-vhost", null, false)] // another vhost is another downstream on any broker
    public void Only_connecting_tells_for_an_address_shared_with_none_and_no_name_known(string after, string? clusterName, bool probed) =>
        Assert.Equal(probed, DownstreamChange.OnlyConnectingTells(Running("memory://b1/", "X"), Definitions(after, clusterName), Preview));
}
