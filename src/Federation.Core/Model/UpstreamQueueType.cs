namespace Federation.Core.Model;

/// <summary>Type of the upstream queue that buffers messages for a link (the <c>queue-type</c> key).</summary>
public enum UpstreamQueueType
{
    /// <summary><c>classic</c> (default).</summary>
    Classic,
    /// <summary><c>quorum</c>: replicated; survives the loss of a minority of upstream nodes.</summary>
    Quorum,
}
