namespace Collectives;

/// <summary>
/// A simulated node or the example's client could not connect to its server; the message names the setting, the
/// connection and the cause, with the URI redacted, so the example can end with one line instead of a stack trace.
/// </summary>
internal sealed class ExampleConnectException(string message, Exception innerException) : Exception(message, innerException);
