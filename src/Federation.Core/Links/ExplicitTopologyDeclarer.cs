using Federation.Core.Diagnostics;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links;

/// <summary>
/// Explicit mode: makes the downstream broker match the topology the host declared, since there the broker is not
/// observed. A refusal (a queue that does not exist, an exchange redeclared with other properties) is logged; federation
/// of the other objects goes on.
/// </summary>
/// <param name="logger">The supervisor's logger.</param>
/// <param name="stopping">Fires when the supervisor stops.</param>
internal sealed class ExplicitTopologyDeclarer(ILogger logger, CancellationToken stopping)
{
    /// <summary>Declares every exchange, then every binding, of <paramref name="snapshot"/>: after every (re)connect, since the broker may have restarted without them.</summary>
    public async Task DeclareAllAsync(DownstreamSession session, TopologySnapshot snapshot)
    {
        foreach (var exchange in snapshot.Exchanges)
        {
            await DeclareAsync(session, new TopologyChange(snapshot.Serial, TopologyChangeKind.ExchangeDeclared, Exchange: exchange)).ConfigureAwait(false);
        }

        foreach (var binding in snapshot.Bindings)
        {
            await DeclareAsync(session, new TopologyChange(snapshot.Serial, TopologyChangeKind.BindingAdded, Binding: binding)).ConfigureAwait(false);
        }
    }

    /// <summary>Makes the downstream follow one declared change; nothing while not connected (the next connect declares everything).</summary>
    public async Task DeclareAsync(DownstreamSession? session, TopologyChange change)
    {
        if (session is null)
        {
            return;
        }

        var connection = session.Connection;
        try
        {
            switch (change.Kind)
            {
                case TopologyChangeKind.ExchangeDeclared:
                    await connection.DeclareExchangeAsync(change.Exchange!, stopping).ConfigureAwait(false);
                    break;
                case TopologyChangeKind.ExchangeDeleted:
                    await connection.DeleteExchangeAsync(change.Exchange!.Name, stopping).ConfigureAwait(false);
                    break;
                case TopologyChangeKind.BindingAdded:
                    await connection.BindAsync(change.Binding!, noWait: false, stopping).ConfigureAwait(false);
                    break;
                case TopologyChangeKind.BindingRemoved:
                    await connection.UnbindAsync(change.Binding!, noWait: false, stopping).ConfigureAwait(false);
                    break;
            }
        }
        catch (TransportException ex) when (ex is not ConnectionLostException)
        {
            Log.ExplicitTopologyFailed(logger, ex, Describe(change), connection.DisplayUri);
        }
    }

    private static string Describe(TopologyChange change) => change.Kind switch
    {
        TopologyChangeKind.ExchangeDeclared or TopologyChangeKind.ExchangeDeleted => $"{change.Kind} {change.Exchange!.Name}",
        _ => $"{change.Kind} {change.Binding!.Source} -> {change.Binding.Destination} ({change.Binding.RoutingKey})",
    };
}
