namespace Federation.Core.Model;

/// <summary>Whether binding commands share the message channel (the <c>channel-use-mode</c> key).</summary>
public enum ChannelUseMode
{
    /// <summary><c>multiple</c> (default): binding commands use a separate command channel so message flow is not blocked.</summary>
    Multiple,
    /// <summary><c>single</c>: in the plugin, one channel carries everything. Not supported: validation refuses it.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The value mirrors rabbitmqctl's channel-use-mode=single.")]
    Single,
}
