namespace Federation.Core.Model;

/// <summary>How a failing link spaces its reconnect attempts (the <c>reconnect-backoff</c> key; not a plugin key).</summary>
public enum ReconnectBackoffMode
{
    /// <summary>
    /// <c>exponential</c> (default): the first retry is immediate, then the wait doubles from <c>reconnect-delay</c> up to
    /// <c>reconnect-delay-max</c>, each wait drawn at random from its upper half, so links that lost one broker do not retry in step.
    /// </summary>
    Exponential,
    /// <summary><c>fixed</c>: the plugin's rule: the first retry is immediate, then exactly <c>reconnect-delay</c> between attempts.</summary>
    Fixed,
}
