using System.Security.Cryptography;
using System.Text;

namespace Federation.Core.Links;

/// <summary>
/// Keeps the names a link makes up for its own broker objects within AMQP's limit: a queue or exchange name is a short
/// string, at most 255 bytes of UTF-8, and a longer one cannot even be sent. The names are built from user-chosen names
/// (exchange, upstream, cluster), so they may not fit where the user's names themselves do.
/// </summary>
internal static class BoundedNames
{
    /// <summary>The most bytes of UTF-8 an AMQP queue or exchange name may have.</summary>
    public const int MaxBytes = 255;

    // 64 bits of SHA-256: names that share a truncated prefix and this are not going to occur by accident.
    private const int HashHexLength = 16;

    /// <summary>Whether <paramref name="name"/> fits in <see cref="MaxBytes"/>.</summary>
    public static bool Fits(string name) => Encoding.UTF8.GetByteCount(name) <= MaxBytes;

    /// <summary>
    /// <paramref name="baseName"/> followed by <paramref name="suffix"/> when that fits. Otherwise the base is cut (at a
    /// character boundary) to leave room for <c>~</c>, a hash of the whole base and the suffix: stable, so every engine and
    /// every restart names the object alike; different for different bases; still recognisable by its start and its
    /// suffix, so related objects (the A and B exchanges of one queue) stay visibly related.
    /// </summary>
    /// <param name="baseName">The name the object is derived from (the upstream queue name, say).</param>
    /// <param name="suffix">What tells this object from others of the same base (<c> A</c>, <c> sentinel</c>); it must fit comfortably.</param>
    public static string WithSuffix(string baseName, string suffix)
    {
        var full = baseName + suffix;
        if (Fits(full))
        {
            return full;
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(baseName), hash);
        var tail = "~" + Convert.ToHexStringLower(hash)[..HashHexLength] + suffix;
        return Prefix(baseName, MaxBytes - Encoding.UTF8.GetByteCount(tail)) + tail;
    }

    /// <summary>The longest start of <paramref name="text"/> of at most <paramref name="maxBytes"/> bytes of UTF-8, never splitting a character.</summary>
    private static string Prefix(string text, int maxBytes)
    {
        var bytes = 0;
        var chars = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            // A lone surrogate enumerates as U+FFFD, one UTF-16 unit and three bytes, as the encoder would write it.
            if (bytes + rune.Utf8SequenceLength > maxBytes)
            {
                break;
            }

            bytes += rune.Utf8SequenceLength;
            chars += rune.Utf16SequenceLength;
        }

        return text[..chars];
    }
}
