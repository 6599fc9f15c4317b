using System.Globalization;
using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

/// <summary>
/// Semantic checks of upstreams and set elements. The plugin only checks that numbers are numbers; we also reject values
/// that cannot work (max-hops 0 forwards nothing, a negative prefetch is meaningless), because a bad link is harder to
/// diagnose than a failed start.
/// </summary>
internal static class UpstreamValidation
{
    /// <summary>The longest reconnect delay: timers take at most <see cref="int.MaxValue"/> milliseconds.</summary>
    public const double MaxReconnectDelaySeconds = int.MaxValue / 1000.0;

    /// <summary>Checks a <c>federation-upstream</c>.</summary>
    public static void ValidateUpstream(UpstreamDefinition? upstream, string path, ICollection<string> errors)
    {
        if (upstream is null)
        {
            errors.Add(At(path, "is null"));
            return;
        }

        ValidateUris(upstream.Uris, Child(path, UpstreamKeys.Uri), errors);
        ValidateParameters(upstream, path, errors);
    }

    /// <summary>Checks one element of a <c>federation-upstream-set</c>.</summary>
    public static void ValidateSetElement(UpstreamSetElement? element, string path, ICollection<string> errors)
    {
        if (element is null)
        {
            errors.Add(At(path, "is null"));
            return;
        }

        if (string.IsNullOrEmpty(element.Upstream))
        {
            errors.Add(Missing(Child(path, UpstreamKeys.Upstream)));
        }

        ValidateParameters(element, path, errors);
    }

    private static void ValidateUris(IList<string>? uris, string path, ICollection<string> errors)
    {
        if (uris is null || uris.Count == 0)
        {
            errors.Add(Missing(path));
            return;
        }

        for (var i = 0; i < uris.Count; i++)
        {
            ValidateAbsoluteUri(uris[i], uris.Count == 1 ? path : Child(path, i), errors);
        }
    }

    /// <summary>Checks that <paramref name="uri"/> is an absolute URI with a scheme; which schemes work is up to the transports.</summary>
    public static void ValidateAbsoluteUri(string? uri, string path, ICollection<string> errors)
    {
        // Ambiguity is checked first: an unencoded '/' or '@' in a password makes the URI unparseable or parse to the wrong
        // host, and the fix is the same either way. Uri.TryCreate accepts "/path" as an implicit file URI on Unix, so the
        // scheme must be written out.
        if (uri is not null && Transport.UriUserInfo.FindAmbiguity(uri) is { } ambiguity)
        {
            errors.Add(At(path, Quote(uri) + " " + ambiguity));
        }
        else if (uri is null
            || !System.Uri.TryCreate(uri, UriKind.Absolute, out var parsed)
            || !uri.StartsWith(parsed.Scheme + ":", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(At(path, (uri is null ? "null" : Quote(uri)) + " is not an absolute URI with a scheme"));
        }
    }

    private static void ValidateParameters(UpstreamParameters parameters, string path, ICollection<string> errors)
    {
        CheckRange(parameters.MaxHops is { } hops && hops < 1, UpstreamKeys.MaxHops, parameters.MaxHops, "must be at least 1");
        CheckRange(parameters.PrefetchCount is { } prefetch && prefetch < 0, UpstreamKeys.PrefetchCount, parameters.PrefetchCount, "must not be negative");
        CheckRange(
            parameters.ReconnectDelaySeconds is { } delay && !(delay >= 0 && delay <= MaxReconnectDelaySeconds),
            UpstreamKeys.ReconnectDelay,
            parameters.ReconnectDelaySeconds,
            string.Create(CultureInfo.InvariantCulture, $"must be a number of seconds from 0 to {MaxReconnectDelaySeconds}"));
        CheckRange(parameters.Expires is { } expires && expires <= 0, UpstreamKeys.Expires, parameters.Expires, "must be a positive number of milliseconds");
        CheckRange(parameters.MessageTtl is { } ttl && ttl < 0, UpstreamKeys.MessageTtl, parameters.MessageTtl, "must not be negative");
        CheckKeyword(parameters.AckMode, UpstreamKeys.AckModes, UpstreamKeys.AckMode);
        CheckKeyword(parameters.QueueType, UpstreamKeys.QueueTypes, UpstreamKeys.QueueType);
        CheckKeyword(parameters.ResourceCleanupMode, UpstreamKeys.ResourceCleanupModes, UpstreamKeys.ResourceCleanupMode);
        CheckKeyword(parameters.ChannelUseMode, UpstreamKeys.ChannelUseModes, UpstreamKeys.ChannelUseMode);

        void CheckRange(bool outOfRange, string key, IFormattable? value, string requirement)
        {
            if (outOfRange)
            {
                errors.Add(At(Child(path, key), "'" + value!.ToString(null, CultureInfo.InvariantCulture) + "' " + requirement));
            }
        }

        void CheckKeyword<TEnum>(TEnum? value, Keywords<TEnum> keywords, string key)
            where TEnum : struct, Enum
        {
            if (value is { } given && !keywords.IsDefined(given))
            {
                errors.Add(At(Child(path, key), "'" + given.ToString("D") + "' is not one of " + keywords.Choices));
            }
        }
    }
}
