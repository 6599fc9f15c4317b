namespace Federation.Core.Hops;

/// <summary>Field names inside the tables of the <c>x-received-from</c> and <c>x-bound-from</c> trails, as the plugin writes them.</summary>
internal static class TrailFieldNames
{
    public const string Uri = "uri";
    public const string Exchange = "exchange";
    public const string Redelivered = "redelivered";
    public const string ClusterName = "cluster-name";
    public const string VirtualHost = "vhost";
    public const string Hops = "hops";
}
