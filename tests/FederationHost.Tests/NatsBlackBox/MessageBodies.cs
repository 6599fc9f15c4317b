using System.Globalization;

namespace FederationHost.Tests.NatsBlackBox;

/// <summary>Message bodies that name themselves, so that what arrives can be matched to what was sent.</summary>
internal static class MessageBodies
{
    /// <summary><c>prefix-0</c> to <c>prefix-(count-1)</c>.</summary>
    public static List<string> Numbered(string prefix, int count) =>
        [.. Enumerable.Range(0, count).Select(i => $"{prefix}-{i.ToString(CultureInfo.InvariantCulture)}")];
}
