using System.Globalization;
using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

/// <summary>
/// Checks <see cref="OwnershipOptions"/>: every duration positive and at most a day, and the relations that keep spreading
/// sound. Each error names the key and the values it was judged by.
/// </summary>
internal static class OwnershipValidation
{
    // Long enough for anything sensible, short enough that timers accept it and that multiples of it cannot overflow.
    private static readonly TimeSpan Longest = TimeSpan.FromDays(1);

    /// <summary>How many heartbeats the presence timeout must span, so that one or two lost or late do not move links.</summary>
    public const int HeartbeatsPerPresenceTimeout = 3;

    public static void Validate(OwnershipOptions? ownership, ICollection<string> errors)
    {
        const string section = nameof(FederationOptions.Ownership);
        if (ownership is null)
        {
            errors.Add(At(section, "is null"));
            return;
        }

        var inRange = true;
        foreach (var (key, value) in new[]
                 {
                     (nameof(OwnershipOptions.HeartbeatInterval), ownership.HeartbeatInterval),
                     (nameof(OwnershipOptions.PresenceTimeout), ownership.PresenceTimeout),
                     (nameof(OwnershipOptions.SettleTime), ownership.SettleTime),
                     (nameof(OwnershipOptions.FallbackDelay), ownership.FallbackDelay),
                     (nameof(OwnershipOptions.LeaveTimeout), ownership.LeaveTimeout),
                 })
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add(At(Child(section, key), Show(value) + " is not positive"));
                inRange = false;
            }
            else if (value > Longest)
            {
                errors.Add(At(Child(section, key), Show(value) + " is longer than a day"));
                inRange = false;
            }
        }

        // The relations are judged only between values that are each in range.
        if (!inRange)
        {
            return;
        }

        var heartbeat = ownership.HeartbeatInterval;
        if (ownership.PresenceTimeout < heartbeat * HeartbeatsPerPresenceTimeout)
        {
            errors.Add(At(Child(section, nameof(OwnershipOptions.PresenceTimeout)),
                Show(ownership.PresenceTimeout) + " is shorter than three heartbeats (" + nameof(OwnershipOptions.HeartbeatInterval) + " " + Show(heartbeat)
                + " x 3 = " + Show(heartbeat * HeartbeatsPerPresenceTimeout) + "): a heartbeat or two lost or late would make the others take a live instance's links"));
        }

        if (ownership.SettleTime < heartbeat)
        {
            errors.Add(At(Child(section, nameof(OwnershipOptions.SettleTime)),
                Show(ownership.SettleTime) + " is shorter than one heartbeat (" + nameof(OwnershipOptions.HeartbeatInterval) + " " + Show(heartbeat)
                + "): links would be handed to an instance on the first heartbeat heard from it, and bounce while it flaps"));
        }

        if (ownership.FallbackDelay < ownership.PresenceTimeout)
        {
            errors.Add(At(Child(section, nameof(OwnershipOptions.FallbackDelay)),
                Show(ownership.FallbackDelay) + " is shorter than the " + nameof(OwnershipOptions.PresenceTimeout) + " " + Show(ownership.PresenceTimeout)
                + ": the runner-up would ask for a link's lease before it could tell whether the instance the link belongs on is gone"));
        }
    }

    private static string Show(TimeSpan value) => Quote(value.ToString("c", CultureInfo.InvariantCulture));
}
