using System.Text.RegularExpressions;
using Federation.Core.Addressing;
using Federation.Core.Transport;

namespace Federation.Core.Collectives;

/// <summary>Validates <see cref="FederationBrokerOptions"/>; each error names the key and the offending value (URIs redacted).</summary>
internal static class FederationBrokerOptionsValidation
{
    public static List<string> Validate(FederationBrokerOptions options, string keyPrefix = "")
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>(options.ConfigurationErrors.Select(e => keyPrefix + e));
        void Fail(string key, string? value, string reason) => errors.Add($"{keyPrefix}{key}: '{value}' {reason}");

        if (string.IsNullOrWhiteSpace(options.ClusterName))
        {
            Fail(nameof(options.ClusterName), options.ClusterName, "is required");
        }
        else if (!IsSingleToken(options.ClusterName))
        {
            Fail(nameof(options.ClusterName), options.ClusterName, "must be one subject token (no '.', '*', '>' or whitespace)");
        }

        ValidateUri(nameof(options.FederationUri), options.FederationUri, Fail);
        ValidateUri(nameof(options.CollectiveUri), options.CollectiveUri, Fail);
        if (SubjectServerIdentity.Of(options.FederationUri) is { } federation && federation == SubjectServerIdentity.Of(options.CollectiveUri))
        {
            // Such an instance relays its federation's requests into its own federation and joins the reply queue group of
            // the cluster's other instances there: it federates nothing and loses their replies (black-box run, 7 Dec 2026).
            Fail(nameof(options.CollectiveUri), UriRedaction.Redact(options.CollectiveUri!),
                $"is the same server as {nameof(options.FederationUri)} ('{UriRedaction.Redact(options.FederationUri!)}'): the instance would relay requests into its own federation. " +
                $"Set {nameof(options.CollectiveUri)} to the member collective's server and {nameof(options.FederationUri)} to the federation's");
        }

        if (options.InstanceName is { } instance && (instance.Length == 0 || instance.Any(char.IsControl)))
        {
            Fail(nameof(options.InstanceName), instance, "must be non-empty printable text");
        }

        if (SubjectGrammar.Explain(options.SubjectPrefix, SubjectUse.Publish, wildcardsMustBeWholeTokens: true) is { } prefixError)
        {
            Fail(nameof(options.SubjectPrefix), options.SubjectPrefix, $"is not a subject prefix: {prefixError}");
        }

        if (options.MaxHops < 1)
        {
            Fail(nameof(options.MaxHops), options.MaxHops.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be at least 1");
        }

        if (options.MaxTargets < 1)
        {
            Fail(nameof(options.MaxTargets), options.MaxTargets.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be at least 1");
        }

        if (options.Workers is < 1 or > FederationBrokerOptions.MaxWorkers)
        {
            Fail(nameof(options.Workers), options.Workers.ToString(System.Globalization.CultureInfo.InvariantCulture), $"must be from 1 to {FederationBrokerOptions.MaxWorkers}");
        }

        if (!Enum.IsDefined(options.Envelope))
        {
            Fail(nameof(options.Envelope), options.Envelope.ToString(), "is not one of native, choria-v1, choria-v2, choria");
        }

        ValidatePattern(nameof(options.TargetPattern), options.TargetPattern, Fail);
        ValidatePattern(nameof(options.ReplyPattern), options.ReplyPattern, Fail);
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every error.</summary>
    public static void ThrowIfInvalid(FederationBrokerOptions options)
    {
        var errors = Validate(options);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid federation broker options: " + string.Join("; ", errors), nameof(options));
        }
    }

    public static bool IsSingleToken(string value) =>
        value.Length > 0 && !value.Any(c => c is '.' or '*' or '>' || char.IsWhiteSpace(c) || char.IsControl(c));

    private static void ValidateUri(string key, string? uri, Action<string, string?, string> fail)
    {
        if (string.IsNullOrWhiteSpace(uri))
        {
            fail(key, uri, "is required");
        }
        else if (UriUserInfo.FindAmbiguity(uri) is { } ambiguity)
        {
            fail(key, UriRedaction.Redact(uri), ambiguity);
        }
        else if (!uri.Contains("://", StringComparison.Ordinal))
        {
            fail(key, UriRedaction.Redact(uri), "is not a URI with a scheme (for example nats://host:4222 or memory://name)");
        }
    }

    private static void ValidatePattern(string key, string? pattern, Action<string, string?, string> fail)
    {
        if (string.IsNullOrEmpty(pattern))
        {
            fail(key, pattern, "is required");
            return;
        }

        try
        {
            _ = new Regex(pattern, RegexOptions.CultureInvariant);
        }
        catch (ArgumentException error)
        {
            fail(key, pattern, $"is not a valid regular expression: {error.Message}");
        }
    }
}
