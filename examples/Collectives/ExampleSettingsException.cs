namespace Collectives;

/// <summary>
/// A mistake in the example's settings: the message names the setting as the operator wrote it (<c>Example:...</c>) and
/// the value, with URIs redacted, so the example can end with one line and exit code 2 instead of a stack trace.
/// </summary>
internal sealed class ExampleSettingsException(string message) : Exception(message);
