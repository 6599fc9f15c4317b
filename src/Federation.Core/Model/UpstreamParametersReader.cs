using static Federation.Core.Model.ConfigurationErrorText;
using static Federation.Core.Model.ParameterReading;

namespace Federation.Core.Model;

/// <summary>
/// Reads <c>federation-upstream</c> objects and <c>federation-upstream-set</c> arrays from JSON or configuration,
/// accepting exactly the keys rabbitmqctl accepts. Reads check types only; ranges and cross-references are the business
/// of validation. A read that reported errors still returns what it could read, so that validation reports the other
/// keys' mistakes in the same run; <see cref="ReadingErrorPaths"/> keeps a key from being reported twice.
/// </summary>
internal static class UpstreamParametersReader
{
    private delegate void KeyReader(UpstreamParameters target, IParameterValue value, string path, ICollection<string> errors);

    // The keys shared by upstreams and set elements (the plugin's shared_validation), in rabbitmqctl spelling.
    private static readonly (string Key, KeyReader Read)[] SharedKeys =
    [
        (UpstreamKeys.Exchange, (t, v, p, e) => t.Exchange = ReadString(v, p, e)),
        (UpstreamKeys.Queue, (t, v, p, e) => t.Queue = ReadString(v, p, e)),
        (UpstreamKeys.ConsumerTag, (t, v, p, e) => t.ConsumerTag = ReadString(v, p, e)),
        (UpstreamKeys.MaxHops, (t, v, p, e) => t.MaxHops = ReadInt32(v, p, e)),
        (UpstreamKeys.PrefetchCount, (t, v, p, e) => t.PrefetchCount = ReadInt32(v, p, e)),
        (UpstreamKeys.ReconnectDelay, (t, v, p, e) => t.ReconnectDelaySeconds = ReadNumber(v, p, e)),
        (UpstreamKeys.ReconnectBackoff, (t, v, p, e) => t.ReconnectBackoff = ReadKeyword(v, UpstreamKeys.ReconnectBackoffModes, p, e)),
        (UpstreamKeys.ReconnectDelayMax, (t, v, p, e) => t.ReconnectDelayMaxSeconds = ReadNumber(v, p, e)),
        (UpstreamKeys.AckMode, (t, v, p, e) => t.AckMode = ReadKeyword(v, UpstreamKeys.AckModes, p, e)),
        (UpstreamKeys.TrustUserId, (t, v, p, e) => t.TrustUserId = ReadBoolean(v, p, e)),
        (UpstreamKeys.Expires, (t, v, p, e) => t.Expires = ReadInt64(v, p, e)),
        (UpstreamKeys.MessageTtl, (t, v, p, e) => t.MessageTtl = ReadInt64(v, p, e)),
        (UpstreamKeys.QueueType, (t, v, p, e) => t.QueueType = ReadKeyword(v, UpstreamKeys.QueueTypes, p, e)),
        (UpstreamKeys.BindNowait, (t, v, p, e) => t.BindNowait = ReadBoolean(v, p, e)),
        (UpstreamKeys.ResourceCleanupMode, (t, v, p, e) => t.ResourceCleanupMode = ReadKeyword(v, UpstreamKeys.ResourceCleanupModes, p, e)),
        (UpstreamKeys.ChannelUseMode, (t, v, p, e) => t.ChannelUseMode = ReadKeyword(v, UpstreamKeys.ChannelUseModes, p, e)),
        (UpstreamKeys.DuplicateSuppression, (t, v, p, e) => t.DuplicateSuppression = ReadBoolean(v, p, e)),
    ];

    /// <summary>Reads a <c>federation-upstream</c> object.</summary>
    public static UpstreamDefinition ReadUpstream(IParameterValue value, string path, ICollection<string> errors)
    {
        var upstream = new UpstreamDefinition();
        foreach (var (key, item) in ReadObject(value, path, errors) ?? [])
        {
            var keyPath = Child(path, key);
            if (value.KeyComparer.Equals(key, UpstreamKeys.Uri))
            {
                upstream.Uris = ReadUris(item, keyPath, errors);
            }
            else
            {
                ReadSharedKey(upstream, key, value.KeyComparer, item, keyPath, errors, UpstreamKeys.Uri);
            }
        }

        return upstream;
    }

    /// <summary>Reads a <c>federation-upstream-set</c> array; null when it is not a list.</summary>
    public static IList<UpstreamSetElement>? ReadSet(IParameterValue value, string path, ICollection<string> errors)
    {
        if (value.Items is not { } items)
        {
            errors.Add(At(path, value.Display + " is not a list of upstream set elements"));
            return null;
        }

        return items.Select((item, index) => ReadSetElement(item, Child(path, index), errors)).ToList();
    }

    private static UpstreamSetElement ReadSetElement(IParameterValue value, string path, ICollection<string> errors)
    {
        var element = new UpstreamSetElement();
        foreach (var (key, item) in ReadObject(value, path, errors) ?? [])
        {
            var keyPath = Child(path, key);
            if (value.KeyComparer.Equals(key, UpstreamKeys.Upstream))
            {
                element.Upstream = ReadString(item, keyPath, errors) ?? "";
            }
            else if (value.KeyComparer.Equals(key, UpstreamKeys.Uri))
            {
                errors.Add(At(keyPath, "Unrecognised terms: a set element cannot override uri; set it on the upstream"));
            }
            else
            {
                ReadSharedKey(element, key, value.KeyComparer, item, keyPath, errors, UpstreamKeys.Upstream);
            }
        }

        return element;
    }

    private static void ReadSharedKey(
        UpstreamParameters target, string key, StringComparer keyComparer, IParameterValue value, string path, ICollection<string> errors, string ownKey)
    {
        var index = Array.FindIndex(SharedKeys, k => keyComparer.Equals(k.Key, key));
        if (index < 0)
        {
            errors.Add(Unrecognised(path, key, SharedKeys.Select(k => k.Key).Append(ownKey)));
            return;
        }

        SharedKeys[index].Read(target, value, path, errors);
    }

    // A single URI string or a list of them, as rabbitmqctl accepts.
    private static List<string> ReadUris(IParameterValue value, string path, ICollection<string> errors)
    {
        // Lists first: configuration cannot tell an empty list from an empty string, and an empty list reads as "missing".
        if (value.Items is not { } items)
        {
            if (value.TryGetString(out var single))
            {
                return [single];
            }

            errors.Add(At(path, value.Display + " is not a string or a list of strings"));
            return [];
        }

        var uris = new List<string>();
        for (var i = 0; i < items.Count; i++)
        {
            if (ReadString(items[i], Child(path, i), errors) is { } uri)
            {
                uris.Add(uri);
            }
        }

        return uris;
    }
}
