using Federation.Core.Hops;
using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>Headers-exchange matching as RabbitMQ's <c>rabbit_exchange_type_headers</c> does it.</summary>
/// <remarks>
/// <c>x-match</c> is <c>all</c> (default), <c>any</c>, <c>all-with-x</c> or <c>any-with-x</c>. Without the <c>-with-x</c>
/// suffix, binding arguments whose names start with <c>x-</c> (such as federation's <c>x-bound-from</c>) take no part.
/// A binding argument whose value is <see langword="null"/> (AMQP void) only requires the header to be present.
/// With no argument that takes part, <c>all</c> matches every message and <c>any</c> none.
/// </remarks>
internal static class HeadersMatcher
{
    public static bool Matches(IReadOnlyDictionary<string, object?>? bindingArguments, IReadOnlyDictionary<string, object?>? headers)
    {
        // AMQP clients hand longstr values over as UTF-8 bytes, so the mode may be either.
        var mode = bindingArguments is not null
            && bindingArguments.TryGetValue(HeadersMatchMode.Argument, out var m)
            && HeaderValueReader.TryGetText(m, out var text) ? text : null;
        var any = mode is HeadersMatchMode.Any or HeadersMatchMode.AnyWithX;
        var includeX = mode is HeadersMatchMode.AllWithX or HeadersMatchMode.AnyWithX;
        if (bindingArguments is null)
        {
            return !any;
        }

        // The broker stores binding arguments as Dictionary; enumerating it directly avoids boxing an enumerator per message.
        if (bindingArguments is Dictionary<string, object?> table)
        {
            foreach (var (name, expected) in table)
            {
                if (Decides(name, expected, headers, any, includeX) is { } verdict)
                {
                    return verdict;
                }
            }

            return !any;
        }

        foreach (var (name, expected) in bindingArguments)
        {
            if (Decides(name, expected, headers, any, includeX) is { } verdict)
            {
                return verdict;
            }
        }

        return !any;
    }

    /// <summary>The overall result if this argument settles it (a hit for any, a miss for all), otherwise null.</summary>
    private static bool? Decides(string name, object? expected, IReadOnlyDictionary<string, object?>? headers, bool any, bool includeX)
    {
        if (name == HeadersMatchMode.Argument || (!includeX && name.StartsWith("x-", StringComparison.Ordinal)))
        {
            return null;
        }

        var matched = headers is not null
            && headers.TryGetValue(name, out var actual)
            && (expected is null || HeaderValueComparer.Instance.Equals(expected, actual));
        return matched == any ? matched : null;
    }
}
