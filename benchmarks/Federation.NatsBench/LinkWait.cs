using Federation.Core;
using Federation.Core.Links;

namespace Federation.NatsBench;

/// <summary>Waits, with a deadline, until an engine's links run.</summary>
internal static class LinkWait
{
    /// <exception cref="TimeoutException">Not all <paramref name="count"/> links ran in time; the message gives each link's state and error.</exception>
    public static async Task RunningAsync(FederationEngine engine, int count, TimeSpan timeout, CancellationToken token)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (engine.GetLinks() is not { } links || links.Count != count || links.Any(l => l.State != LinkState.Running))
        {
            if (DateTime.UtcNow > deadline)
            {
                var states = engine.GetLinks().Select(l => $"{l.Id} ({l.Exchange}) {l.State}: {l.Error}").ToList();
                throw new TimeoutException($"{count} link(s) not running within {timeout.TotalSeconds:F0} s: " + (states.Count == 0 ? "no link was created" : string.Join("; ", states)));
            }

            await Task.Delay(50, token);
        }
    }
}
