using Federation.Core.Diagnostics;
using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Core.Links.Deduplication;

/// <summary>
/// Deletes a link's ledger on the downstream once nobody redelivers from its upstream queue any more (the queue deleted,
/// or taken over by another link, whose ledger is another). A failure leaves the ledger there, logged (event 1031): it
/// costs only its records. For a session's shutdown (<see cref="LinkSession"/>) and a stop between runs (<see cref="ExchangeLink"/>).
/// </summary>
internal static class LedgerDeletion
{
    /// <summary>Whether the link keeps a ledger at all: on-confirm with duplicate suppression (see LinkSession.Deduplication).</summary>
    public static bool KeepsOne(LinkDefinition definition) => definition.Upstream.AckMode == AckMode.OnConfirm && definition.Upstream.DuplicateSuppression;

    public static async Task DeleteAsync(IBrokerConnection downstream, LinkDefinition definition, ILogger logger, CancellationToken cancellationToken)
    {
        var name = UpstreamNaming.LedgerName(definition.Exchange.Name, definition.Upstream.UpstreamName, definition.Id);
        try
        {
            await downstream.DeleteLedgerAsync(name, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A ledger left behind costs only its records: logged, never thrown at a stop.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.LedgerCleanupFailed(logger, definition.Id, name, FailureEpisode.Describe(ex));
        }
    }
}
