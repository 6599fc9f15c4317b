using System.Globalization;
using Microsoft.Extensions.Configuration;
using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

/// <summary>
/// Reads the <c>Federation:Ownership</c> section into <see cref="OwnershipOptions"/>: each key a duration, anything left out
/// keeps its default. Problems go to the error list, as everywhere in the reader; the relations between the values are
/// checked by <see cref="OwnershipValidation"/>, so that options set in code are held to them too.
/// </summary>
internal static class OwnershipOptionsReader
{
    private static readonly string[] Keys =
    [
        nameof(OwnershipOptions.HeartbeatInterval), nameof(OwnershipOptions.PresenceTimeout), nameof(OwnershipOptions.SettleTime),
        nameof(OwnershipOptions.FallbackDelay), nameof(OwnershipOptions.LeaveTimeout),
    ];

    public static OwnershipOptions Read(IConfigurationSection section, List<string> errors)
    {
        var ownership = new OwnershipOptions();
        if (!section.Exists())
        {
            return ownership;
        }

        var value = new ConfigurationParameterValue(section);
        if (ParameterReading.ReadProperties(value, section.Key, errors, "a section", scalarHint: "; write " + section.Key + ":" + Keys[0] + " and so on") is not { } properties)
        {
            return ownership;
        }

        foreach (var (key, item) in properties)
        {
            var path = Child(section.Key, key);
            if (!Array.Exists(Keys, k => value.KeyComparer.Equals(k, key)))
            {
                errors.Add(At(path, "Unrecognised terms: not a recognised key; the " + section.Key + " section accepts " + string.Join(", ", Keys)
                    + KeySuggestion.DidYouMean(key, Keys)));
                continue;
            }

            if (ReadDuration(item, path, errors) is not { } duration)
            {
                continue;
            }

            switch (Keys.First(k => value.KeyComparer.Equals(k, key)))
            {
                case nameof(OwnershipOptions.HeartbeatInterval):
                    ownership.HeartbeatInterval = duration;
                    break;
                case nameof(OwnershipOptions.PresenceTimeout):
                    ownership.PresenceTimeout = duration;
                    break;
                case nameof(OwnershipOptions.SettleTime):
                    ownership.SettleTime = duration;
                    break;
                case nameof(OwnershipOptions.FallbackDelay):
                    ownership.FallbackDelay = duration;
                    break;
                default:
                    ownership.LeaveTimeout = duration;
                    break;
            }
        }

        return ownership;
    }

    // A duration must say hours, minutes and seconds: TimeSpan alone reads a bare "5" as five days, which someone who meant
    // seconds would not notice until the links took days to move.
    private static TimeSpan? ReadDuration(IParameterValue value, string path, List<string> errors)
    {
        if (value.TryGetString(out var text) && text.Contains(':', StringComparison.Ordinal)
            && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var duration))
        {
            return duration;
        }

        errors.Add(At(path, value.Display + " is not a duration (hh:mm:ss, for example 00:00:01 or 00:00:00.500)"));
        return null;
    }
}
