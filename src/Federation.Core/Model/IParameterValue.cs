using System.Diagnostics.CodeAnalysis;

namespace Federation.Core.Model;

/// <summary>
/// One value of a federation parameter, read either from rabbitmqctl-style JSON (<see cref="JsonParameterValue"/>) or
/// from <see cref="Microsoft.Extensions.Configuration.IConfiguration"/> (<see cref="ConfigurationParameterValue"/>), so
/// that a single set of readers serves both. JSON values are typed, as rabbitmqctl requires (a JSON string is not a
/// number); configuration values are strings and are parsed invariantly.
/// </summary>
internal interface IParameterValue
{
    /// <summary>How keys of this object compare: ordinal for JSON, case-insensitive for configuration.</summary>
    StringComparer KeyComparer { get; }

    /// <summary>The value as shown in error messages: quoted and without credentials, or a description of a compound value.</summary>
    string Display { get; }

    /// <summary>The value as text: a string, the JSON text of a non-string JSON value, or a configuration section's value.</summary>
    string? Text { get; }

    /// <summary>The items of a list, in order; null when the value is not a list.</summary>
    IReadOnlyList<IParameterValue>? Items { get; }

    /// <summary>The keys and values of an object, in document order; null when the value is not an object.</summary>
    IReadOnlyList<KeyValuePair<string, IParameterValue>>? Properties { get; }

    /// <summary>Reads a string.</summary>
    bool TryGetString([NotNullWhen(true)] out string? value);

    /// <summary>Reads an integer.</summary>
    bool TryGetInteger(out long value);

    /// <summary>Reads a number.</summary>
    bool TryGetNumber(out double value);

    /// <summary>Reads a boolean.</summary>
    bool TryGetBoolean(out bool value);
}
