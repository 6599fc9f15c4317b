namespace Federation.Core.Hops;

/// <summary>Header and argument names of the federation plugin's wire format.</summary>
public static class HopHeaders
{
    /// <summary>Message header: the trail of (cluster, vhost) pairs a message has left, newest first.</summary>
    public const string ReceivedFrom = "x-received-from";
    /// <summary>Binding argument: the trail of a propagated binding with its remaining hops, newest first.</summary>
    public const string BoundFrom = "x-bound-from";
    /// <summary>Message header where a malformed <c>x-received-from</c> is moved when the trail is rewritten.</summary>
    public const string InvalidHeaders = "x-invalid-headers";
    /// <summary>Internal exchange argument: the link's max-hops.</summary>
    public const string MaxHopsArgument = "x-max-hops";
    /// <summary>Internal exchange argument: the downstream cluster name.</summary>
    public const string DownstreamNameArgument = "x-downstream-name";
    /// <summary>Internal exchange argument: the downstream vhost.</summary>
    public const string DownstreamVhostArgument = "x-downstream-vhost";
    /// <summary>Argument that marks federation's own resources.</summary>
    public const string InternalPurposeArgument = "x-internal-purpose";
    /// <summary>The value of <see cref="InternalPurposeArgument"/>.</summary>
    public const string InternalPurposeValue = "federation";
}
