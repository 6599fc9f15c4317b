using System.Globalization;
using System.Text;

namespace Federation.Nats.Leases;

/// <summary>
/// Turns a lease name into a key-value key. Lease names are free text (<c>federation: lease eu orders -&gt; origin</c>),
/// while a key may only hold <c>[-/_=.a-zA-Z0-9]</c>, and a dot splits it into subject tokens.
/// </summary>
internal static class NatsLeaseKeys
{
    /// <summary>
    /// The key of lease <paramref name="name"/>: letters, digits, <c>-</c> and <c>_</c> stay, every other UTF-8 byte becomes
    /// <c>=XX</c> (its hex value), so distinct names never share a key and the key still reads like the name.
    /// </summary>
    public static string KeyFor(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var key = new StringBuilder(name.Length + 16);
        foreach (var b in Encoding.UTF8.GetBytes(name))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            {
                key.Append(c);
            }
            else
            {
                key.Append('=').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return key.ToString();
    }
}
