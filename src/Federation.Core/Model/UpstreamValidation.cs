using System.Globalization;
using Federation.Core.Transport;
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

    /// <summary>
    /// The shortest reconnect delay. The first retry after a failure is immediate anyway; a shorter delay only turns an
    /// unreachable upstream into a busy loop of connection attempts and log lines.
    /// </summary>
    public const double MinReconnectDelaySeconds = 0.1;

    /// <summary>The largest <c>expires</c> and <c>message-ttl</c>: RabbitMQ's timer limit, 2^32 - 1 ms (about 49.7 days).</summary>
    public const long MaxQueueMilliseconds = uint.MaxValue;

    /// <summary>Checks a <c>federation-upstream</c>, and its settings against the transports of its URIs when they are given.</summary>
    /// <returns>Whether its URIs are usable, so that set elements naming it can be checked against their transports too.</returns>
    public static bool ValidateUpstream([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] UpstreamDefinition? upstream, string path, TransportResolver? transports, ICollection<string> errors)
    {
        if (upstream is null)
        {
            errors.Add(At(path, "is null"));
            return false;
        }

        var before = errors.Count;
        ValidateUris(upstream.Uris, Child(path, UpstreamKeys.Uri), transports, errors);
        var usableUris = errors.Count == before;
        ValidateParameters(upstream, path, errors);
        if (usableUris)
        {
            ValidateForTransports(upstream, upstream.Uris, path, transports, errors);
        }

        return usableUris;
    }

    /// <summary>
    /// Checks what <paramref name="parameters"/> (an upstream or a set element) sets against the transport of each of
    /// <paramref name="uris"/> (<see cref="ITransport.ValidateUpstream"/>): a value the transport always refuses, such as
    /// an AMQP <c>prefetch-count</c> above 65535, fails the configuration naming its key, rather than every link it would
    /// run. The same problem from several URIs of one upstream is reported once.
    /// </summary>
    public static void ValidateForTransports(UpstreamParameters parameters, IEnumerable<string> uris, string path, TransportResolver? transports, ICollection<string> errors)
    {
        if (transports is null)
        {
            return;
        }

        var settings = new UpstreamSettings { PrefetchCount = parameters.PrefetchCount };
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var uri in uris)
        {
            foreach (var problem in transports.ValidateUpstream(uri, settings))
            {
                var error = At(Child(path, problem.Key), problem.Problem);
                if (reported.Add(error))
                {
                    errors.Add(error);
                }
            }
        }
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

    private static void ValidateUris(IList<string>? uris, string path, TransportResolver? transports, ICollection<string> errors)
    {
        if (uris is null || uris.Count == 0)
        {
            errors.Add(Missing(path));
            return;
        }

        for (var i = 0; i < uris.Count; i++)
        {
            ValidateUri(uris[i], uris.Count == 1 ? path : Child(path, i), transports, errors);
        }
    }

    /// <summary>
    /// Checks that <paramref name="uri"/> is absolute and, when <paramref name="transports"/> are given, that a registered
    /// transport serves its scheme and accepts it (query keys included), so that a bad URI fails the configuration, not a link.
    /// </summary>
    public static void ValidateUri(string? uri, string path, TransportResolver? transports, ICollection<string> errors)
    {
        var before = errors.Count;
        ValidateAbsoluteUri(uri, path, errors);
        if (uri is null || transports is null || errors.Count > before)
        {
            return;
        }

        foreach (var problem in transports.Validate(uri))
        {
            errors.Add(At(path, Quote(uri) + " " + problem));
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
        else if (uri.IndexOf('#', StringComparison.Ordinal) is var fragment and >= 0)
        {
            // No transport reads a fragment, and status and logs showed it as written (redaction masks only user
            // information and secret-looking query values): "amqp://host/vh#tail" put whatever followed an unencoded '#'
            // on display. The user information holds none here (the ambiguity check above refuses that), so the URI is
            // quoted up to the '#', without what follows it.
            errors.Add(At(path, Quote(uri[..fragment]) + " has a fragment ('#...'), which no transport reads: remove it, and write a '#' that belongs to a password, token or vhost as %23"));
        }
    }

    private static void ValidateParameters(UpstreamParameters parameters, string path, ICollection<string> errors)
    {
        CheckRange(parameters.MaxHops is { } hops && hops < 1, UpstreamKeys.MaxHops, parameters.MaxHops, "must be at least 1");
        // 0 would mean "unlimited" to an AMQP broker (basic.qos) while the downstream confirm window became 1: two silent surprises.
        // No upper bound here: JetStream takes larger values; each transport checks its own (ValidateForTransports).
        CheckRange(parameters.PrefetchCount is { } prefetch && prefetch < 1, UpstreamKeys.PrefetchCount, parameters.PrefetchCount, "must be at least 1");
        CheckRange(
            parameters.ReconnectDelaySeconds is { } delay && !(delay >= MinReconnectDelaySeconds && delay <= MaxReconnectDelaySeconds),
            UpstreamKeys.ReconnectDelay,
            parameters.ReconnectDelaySeconds,
            string.Create(CultureInfo.InvariantCulture, $"must be a number of seconds from {MinReconnectDelaySeconds} to {MaxReconnectDelaySeconds}"));
        CheckRange(
            parameters.ReconnectDelayMaxSeconds is { } cap && !(cap >= MinReconnectDelaySeconds && cap <= MaxReconnectDelaySeconds),
            UpstreamKeys.ReconnectDelayMax,
            parameters.ReconnectDelayMaxSeconds,
            string.Create(CultureInfo.InvariantCulture, $"must be a number of seconds from {MinReconnectDelaySeconds} to {MaxReconnectDelaySeconds}"));
        // Checked where both are given together; when a set element overrides only one of them, the cap is raised to the delay.
        CheckRange(
            parameters is { ReconnectDelayMaxSeconds: { } max, ReconnectDelaySeconds: { } min } && max >= MinReconnectDelaySeconds && max < min,
            UpstreamKeys.ReconnectDelayMax,
            parameters.ReconnectDelayMaxSeconds,
            string.Create(CultureInfo.InvariantCulture, $"must not be below reconnect-delay ({parameters.ReconnectDelaySeconds})"));
        if (parameters.Exchange is "")
        {
            errors.Add(At(Child(path, UpstreamKeys.Exchange), "'' is empty (the default exchange cannot be federated); leave it unset to use the federated exchange's name"));
        }

        // RabbitMQ refuses both above 2^32 - 1 ms (its timers' limit) with a 406 when the link declares its queue: by then a
        // reload may have deleted the old upstream queue, so the value is refused here, before anything changes.
        CheckRange(parameters.Expires is { } expires && expires is <= 0 or > MaxQueueMilliseconds, UpstreamKeys.Expires, parameters.Expires, "must be a positive number of milliseconds, at most 4294967295");
        CheckRange(parameters.MessageTtl is { } ttl && ttl is < 0 or > MaxQueueMilliseconds, UpstreamKeys.MessageTtl, parameters.MessageTtl, "must be a number of milliseconds from 0 to 4294967295");
        CheckKeyword(parameters.ReconnectBackoff, UpstreamKeys.ReconnectBackoffModes, UpstreamKeys.ReconnectBackoff);
        CheckKeyword(parameters.AckMode, UpstreamKeys.AckModes, UpstreamKeys.AckMode);
        CheckKeyword(parameters.QueueType, UpstreamKeys.QueueTypes, UpstreamKeys.QueueType);
        CheckKeyword(parameters.ResourceCleanupMode, UpstreamKeys.ResourceCleanupModes, UpstreamKeys.ResourceCleanupMode);
        CheckKeyword(parameters.ChannelUseMode, UpstreamKeys.ChannelUseModes, UpstreamKeys.ChannelUseMode);
        if (parameters.ChannelUseMode is ChannelUseMode.Single)
        {
            // Refused rather than accepted and ignored: an operator who asks for one channel per link must not believe
            // they got it. Consumers, publishers and topology commands always have channels of their own here.
            errors.Add(At(Child(path, UpstreamKeys.ChannelUseMode), "'single' is not supported: a link always sends binding commands on a channel of its own, apart from the message flow (what 'multiple', the default, means); remove the key or set 'multiple'"));
        }

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
