using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Federation.Core.Collectives;

/// <summary>
/// Reads <see cref="FederationBrokerOptions"/> from configuration without reflection (the library is AOT-compatible). Keys
/// are the property names, case-insensitive; a number that does not parse is kept for validation to report.
/// </summary>
internal static class FederationBrokerConfigurationReader
{
    /// <summary>The configuration spellings of <see cref="FederationEnvelopeFormat"/>; the enum names are accepted too.</summary>
    private static readonly Dictionary<string, FederationEnvelopeFormat> EnvelopeNames = new Dictionary<string, FederationEnvelopeFormat>(StringComparer.OrdinalIgnoreCase)
    {
        ["native"] = FederationEnvelopeFormat.Native,
        ["choria-v1"] = FederationEnvelopeFormat.ChoriaV1,
        ["choria-v2"] = FederationEnvelopeFormat.ChoriaV2,
        ["choria"] = FederationEnvelopeFormat.Choria,
        [nameof(FederationEnvelopeFormat.ChoriaV1)] = FederationEnvelopeFormat.ChoriaV1,
        [nameof(FederationEnvelopeFormat.ChoriaV2)] = FederationEnvelopeFormat.ChoriaV2,
    };

    public static void Read(IConfiguration section, FederationBrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(options);
        ReadString(section, nameof(options.ClusterName), v => options.ClusterName = v);
        ReadString(section, nameof(options.FederationUri), v => options.FederationUri = v);
        ReadString(section, nameof(options.CollectiveUri), v => options.CollectiveUri = v);
        ReadString(section, nameof(options.InstanceName), v => options.InstanceName = v);
        ReadString(section, nameof(options.SubjectPrefix), v => options.SubjectPrefix = v);
        ReadString(section, nameof(options.TargetPattern), v => options.TargetPattern = v);
        ReadString(section, nameof(options.ReplyPattern), v => options.ReplyPattern = v);
        ReadInt(section, nameof(options.MaxHops), options, v => options.MaxHops = v);
        ReadInt(section, nameof(options.MaxTargets), options, v => options.MaxTargets = v);
        ReadInt(section, nameof(options.Workers), options, v => options.Workers = v);
        ReadEnvelope(section, options);

        // A misspelt key ("Envelop") would otherwise leave its default in place without a word: a Choria fleet would get
        // the native envelope and every request would be dropped as malformed.
        foreach (var child in section.GetChildren())
        {
            if (!Keys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                options.ConfigurationErrors.Add($"{child.Key}: is not a federation broker setting (they are {string.Join(", ", Keys)})");
            }
        }
    }

    private static readonly string[] Keys =
    [
        nameof(FederationBrokerOptions.ClusterName), nameof(FederationBrokerOptions.FederationUri), nameof(FederationBrokerOptions.CollectiveUri),
        nameof(FederationBrokerOptions.InstanceName), nameof(FederationBrokerOptions.SubjectPrefix), nameof(FederationBrokerOptions.TargetPattern),
        nameof(FederationBrokerOptions.ReplyPattern), nameof(FederationBrokerOptions.MaxHops), nameof(FederationBrokerOptions.MaxTargets),
        nameof(FederationBrokerOptions.Workers),
        nameof(FederationBrokerOptions.Envelope),
    ];

    private static void ReadEnvelope(IConfiguration section, FederationBrokerOptions options)
    {
        if (section[nameof(options.Envelope)] is not { } value)
        {
            return;
        }

        if (EnvelopeNames.TryGetValue(value.Trim(), out var format))
        {
            options.Envelope = format;
        }
        else
        {
            options.ConfigurationErrors.Add($"{nameof(options.Envelope)}: '{value}' is not one of native, choria-v1, choria-v2, choria");
        }
    }

    private static void ReadString(IConfiguration section, string key, Action<string> set)
    {
        if (section[key] is { } value)
        {
            set(value);
        }
    }

    private static void ReadInt(IConfiguration section, string key, FederationBrokerOptions options, Action<int> set)
    {
        if (section[key] is not { } value)
        {
            return;
        }

        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
        {
            set(number);
        }
        else
        {
            options.ConfigurationErrors.Add($"{key}: '{value}' is not an integer");
        }
    }
}
