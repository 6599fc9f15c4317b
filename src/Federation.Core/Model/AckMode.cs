namespace Federation.Core.Model;

/// <summary>When a link acknowledges a message to its upstream (the <c>ack-mode</c> key).</summary>
public enum AckMode
{
    /// <summary><c>on-confirm</c> (default): ack upstream only after the downstream broker confirmed the republished message. At-least-once.</summary>
    OnConfirm,
    /// <summary><c>on-publish</c>: ack upstream as soon as the message was handed to the downstream. May lose messages if the downstream fails.</summary>
    OnPublish,
    /// <summary><c>no-ack</c>: consume upstream without acknowledgements and without prefetch bound. Fastest; loses in-flight messages on failure.</summary>
    NoAck,
}
