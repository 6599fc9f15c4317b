namespace Federation.Core.Transport;

/// <summary>
/// Told by a transport that it dropped messages meant for a consumer before they were delivered (for example a client
/// buffer that was full, or a message whose properties the transport could not read). The engine counts them in
/// <c>federation.link.messages.dropped</c>, shows them in the link status and logs them.
/// </summary>
/// <param name="reason">Why, as a short snake_case word (for example <c>slow_consumer</c>); used as the metric's reason.</param>
/// <param name="count">How many messages.</param>
/// <param name="cause">What exactly happened, for the log (which message, what could not be read); <see langword="null"/> when the reason says it all.</param>
public delegate void MessageDropHandler(string reason, long count, string? cause);
