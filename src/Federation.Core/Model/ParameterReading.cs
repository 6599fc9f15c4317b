using static Federation.Core.Model.ConfigurationErrorText;

namespace Federation.Core.Model;

/// <summary>
/// Typed reads of <see cref="IParameterValue"/>s. Each returns null and records an error naming the key path and the
/// value when the value has the wrong type, so that a reader reports every problem instead of stopping at the first.
/// </summary>
internal static class ParameterReading
{
    /// <summary>The properties of an object, or null (with an error) when the value is not an object or repeats a key.</summary>
    public static IReadOnlyList<KeyValuePair<string, IParameterValue>>? ReadObject(IParameterValue value, string path, ICollection<string> errors)
    {
        if (ReadProperties(value, path, errors, "an object") is not { } properties)
        {
            return null;
        }

        var seen = new HashSet<string>(value.KeyComparer);
        var duplicates = properties.Where(p => !seen.Add(p.Key)).Select(p => p.Key).Distinct(value.KeyComparer).ToList();
        foreach (var key in duplicates)
        {
            errors.Add(At(Child(path, key), "is given more than once"));
        }

        return duplicates.Count == 0 ? properties : null;
    }

    /// <summary>
    /// The properties of a value that must be <paramref name="shape"/> (an object, a section), or null with an error when it
    /// is a scalar or a list; <paramref name="scalarHint"/> and <paramref name="listHint"/> end those errors (how to write it).
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, IParameterValue>>? ReadProperties(IParameterValue value, string path, ICollection<string> errors, string shape, string scalarHint = "", string listHint = "")
    {
        if (value.Properties is not { } properties)
        {
            errors.Add(At(path, value.Display + " is not " + shape + scalarHint));
            return null;
        }

        // Configuration stores a list as children named 0, 1, ...: without this, a list would read as an object with
        // the keys "0", "1" and be reported key by key instead of as the wrong shape it is.
        if (value.Items is { Count: > 0 })
        {
            errors.Add(At(path, "is a list, not " + shape + listHint));
            return null;
        }

        return properties;
    }

    /// <summary>Reads a string.</summary>
    public static string? ReadString(IParameterValue value, string path, ICollection<string> errors)
    {
        if (value.TryGetString(out var text))
        {
            return text;
        }

        errors.Add(At(path, value.Display + " is not a string"));
        return null;
    }

    /// <summary>Reads an integer in the range of <see cref="int"/>.</summary>
    public static int? ReadInt32(IParameterValue value, string path, ICollection<string> errors) =>
        ReadInt64(value, path, errors) is { } number
            ? number is >= int.MinValue and <= int.MaxValue ? (int)number : AddError<int>(errors, path, value.Display + " is out of range")
            : null;

    /// <summary>Reads an integer.</summary>
    public static long? ReadInt64(IParameterValue value, string path, ICollection<string> errors) =>
        value.TryGetInteger(out var number) ? number : AddError<long>(errors, path, value.Display + " is not an integer");

    /// <summary>Reads a number.</summary>
    public static double? ReadNumber(IParameterValue value, string path, ICollection<string> errors) =>
        value.TryGetNumber(out var number) ? number : AddError<double>(errors, path, value.Display + " is not a number");

    /// <summary>Reads a boolean.</summary>
    public static bool? ReadBoolean(IParameterValue value, string path, ICollection<string> errors) =>
        value.TryGetBoolean(out var flag) ? flag : AddError<bool>(errors, path, value.Display + " is not a boolean (true or false)");

    /// <summary>Reads one of the rabbitmqctl keywords of an enumeration.</summary>
    public static TEnum? ReadKeyword<TEnum>(IParameterValue value, Keywords<TEnum> keywords, string path, ICollection<string> errors)
        where TEnum : struct, Enum =>
        value.TryGetString(out var text) && keywords.TryParse(text, out var parsed)
            ? parsed
            : AddError<TEnum>(errors, path, value.Display + " is not one of " + keywords.Choices);

    private static T? AddError<T>(ICollection<string> errors, string path, string message)
        where T : struct
    {
        errors.Add(At(path, message));
        return null;
    }
}
