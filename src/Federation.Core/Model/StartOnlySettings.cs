using System.Globalization;
using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

/// <summary>
/// The settings that take effect only at start: <see cref="FederationDefinitions.InstanceName"/>,
/// <see cref="FederationDefinitions.SpreadLinks"/> and every <see cref="FederationDefinitions.Ownership"/> timing. The instance's place among the others is built from them once,
/// when the engine is created, so a reload that changes them would otherwise be ignored without a word; this names what
/// changed so that the reload can say a restart is needed.
/// </summary>
internal static class StartOnlySettings
{
    /// <summary>
    /// Each start-only key whose value in <paramref name="updated"/> differs from the <paramref name="running"/> one, as
    /// <c>key 'running' -> 'updated'</c>, in configuration order; empty when none changed.
    /// </summary>
    public static IReadOnlyList<string> Changes(FederationDefinitions running, FederationDefinitions updated)
    {
        var changes = new List<string>();
        if (!string.Equals(running.InstanceName, updated.InstanceName, StringComparison.Ordinal))
        {
            changes.Add(Change(nameof(FederationOptions.InstanceName), Show(running.InstanceName), Show(updated.InstanceName)));
        }

        if (running.SpreadLinks != updated.SpreadLinks)
        {
            changes.Add(Change(nameof(FederationOptions.SpreadLinks), Show(running.SpreadLinks), Show(updated.SpreadLinks)));
        }

        var before = running.Ownership;
        var after = updated.Ownership;
        foreach (var (key, was, now) in new[]
                 {
                     (nameof(OwnershipOptions.HeartbeatInterval), before.HeartbeatInterval, after.HeartbeatInterval),
                     (nameof(OwnershipOptions.PresenceTimeout), before.PresenceTimeout, after.PresenceTimeout),
                     (nameof(OwnershipOptions.SettleTime), before.SettleTime, after.SettleTime),
                     (nameof(OwnershipOptions.FallbackDelay), before.FallbackDelay, after.FallbackDelay),
                     (nameof(OwnershipOptions.LeaveTimeout), before.LeaveTimeout, after.LeaveTimeout),
                 })
        {
            if (was != now)
            {
                changes.Add(Change(Child(nameof(FederationOptions.Ownership), key), Show(was), Show(now)));
            }
        }

        return changes;
    }

    private static string Change(string key, string was, string now) => key + " " + was + " -> " + now;

    // An unset name runs as machine:pid, which a reload cannot see; "(unset)" says which case it was.
    private static string Show(string? value) => value is null ? "(unset)" : Quote(value);

    private static string Show(bool value) => Quote(value ? "true" : "false");

    private static string Show(TimeSpan value) => Quote(value.ToString("c", CultureInfo.InvariantCulture));
}
