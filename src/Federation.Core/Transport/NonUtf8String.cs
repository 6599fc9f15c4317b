using System.Text;

namespace Federation.Core.Transport;

/// <summary>
/// A text header value whose bytes are not valid UTF-8. AMQP long strings are bytes, and a sender may put any there;
/// decoding them into a <see cref="string"/> would replace the invalid bytes with U+FFFD and change the data, so such a
/// value is kept byte for byte and is written back as text (an AMQP long string), not as binary.
/// </summary>
public sealed class NonUtf8String : IEquatable<NonUtf8String>
{
    private readonly byte[] _bytes;

    /// <summary>Keeps a copy of <paramref name="bytes"/>.</summary>
    /// <param name="bytes">The value's bytes.</param>
    public NonUtf8String(ReadOnlySpan<byte> bytes) => _bytes = bytes.ToArray();

    private NonUtf8String(byte[] bytes) => _bytes = bytes;

    /// <summary>The value's bytes, exactly as received.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>
    /// The normalised header value for received long-string bytes that the caller hands over (and no longer changes): a
    /// <see cref="string"/> when they are valid UTF-8, otherwise a <see cref="NonUtf8String"/> that keeps the array.
    /// </summary>
    /// <param name="bytes">The bytes; owned by the result afterwards.</param>
    public static object FromOwnedBytes(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return System.Text.Unicode.Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : new NonUtf8String(bytes);
    }

    /// <inheritdoc />
    public bool Equals(NonUtf8String? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is NonUtf8String other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_bytes);
        return hash.ToHashCode();
    }

    /// <summary>The text with each invalid sequence replaced by U+FFFD: for display only, it is not the value.</summary>
    public override string ToString() => Encoding.UTF8.GetString(_bytes);
}
