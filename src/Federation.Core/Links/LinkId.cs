using System.Security.Cryptography;
using System.Text;

namespace Federation.Core.Links;

/// <summary>Computes stable link ids, so that restart-by-id and status lookups survive restarts and reconfiguration.</summary>
internal static class LinkId
{
    /// <summary>
    /// 8 lowercase hex characters from a SHA-256 of the link's identity (like the plugin's 8-hex id). The downstream cluster
    /// is part of it, so ids are unique across a whole federation, not just per node as in the plugin.
    /// </summary>
    public static string For(string clusterName, string virtualHost, string exchange, string upstreamName, string upstreamExchange)
    {
        var identity = string.Join('\u001f', clusterName, virtualHost, exchange, upstreamName, upstreamExchange);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(identity), hash);
        return Convert.ToHexStringLower(hash[..4]);
    }
}
