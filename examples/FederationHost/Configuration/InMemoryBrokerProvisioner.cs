using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FederationHost.Configuration;

/// <summary>
/// Demo behaviour: creates the in-memory brokers named by <c>memory://</c> URIs in the configuration, because the
/// in-memory transport refuses to connect to a broker nobody registered. It runs as a post-configure step so that a
/// broker named by a reloaded configuration exists before the engine sees the new options. Only the broker (and vhost
/// <c>/</c>) is created; other vhosts are not, so a URI naming a missing vhost still fails like a real broker would.
/// Disable with <c>Host:CreateInMemoryBrokers=false</c>.
/// </summary>
internal sealed partial class InMemoryBrokerProvisioner(InMemoryBrokerRegistry registry, ILogger<InMemoryBrokerProvisioner> logger)
    : IPostConfigureOptions<FederationOptions>
{
    private const string Prefix = "memory://";

    public void PostConfigure(string? name, FederationOptions options)
    {
        var uris = new List<string?> { options.Downstream.Uri };
        foreach (var upstream in options.Upstreams.Values)
        {
            uris.AddRange(upstream.Uris);
        }

        foreach (var uri in uris)
        {
            if (BrokerName(uri) is { } broker && !registry.TryGet(broker, out _))
            {
                registry.GetOrAdd(broker);
                LogCreated(logger, broker);
            }
        }
    }

    /// <summary>The broker name of a <c>memory://[user:pass@]broker[/vhost]</c> URI, or null for other schemes and malformed URIs.</summary>
    internal static string? BrokerName(string? uri)
    {
        // An ambiguous URI ("memory://user:pa/ss@hub") would yield part of the password as the broker name, which is logged.
        if (uri is null || !uri.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) || UriUserInfo.FindAmbiguity(uri) is not null)
        {
            return null;
        }

        var authority = uri[Prefix.Length..];
        var end = authority.IndexOfAny(['/', '?', '#']);
        if (end >= 0)
        {
            authority = authority[..end];
        }

        // Credentials are cut off here and never logged.
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            authority = authority[(at + 1)..];
        }

        return authority.Length == 0 ? null : Uri.UnescapeDataString(authority);
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Created the in-memory broker '{Broker}' named in the configuration (demo behaviour).")]
    private static partial void LogCreated(ILogger logger, string broker);
}
