namespace Federation.Core.Transport;

/// <summary>
/// Told by a transport that it dropped messages meant for a consumer before they were delivered (for example a client
/// buffer that was full). The engine counts them in <c>federation.link.messages.dropped</c> and shows them in the link status.
/// </summary>
/// <param name="reason">Why, as a short snake_case word (for example <c>slow_consumer</c>); used as the metric's reason.</param>
/// <param name="count">How many messages.</param>
public delegate void MessageDropHandler(string reason, long count);
