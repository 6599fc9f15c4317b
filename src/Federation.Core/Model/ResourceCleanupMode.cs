namespace Federation.Core.Model;

/// <summary>What a clean link stop does with the upstream queue and internal exchange (the <c>resource-cleanup-mode</c> key).</summary>
public enum ResourceCleanupMode
{
    /// <summary><c>default</c>: delete them, which discards messages buffered upstream.</summary>
    Default,
    /// <summary><c>never</c>: keep them, so messages keep buffering across reconfiguration and restarts; the operator cleans up.</summary>
    Never,
}
