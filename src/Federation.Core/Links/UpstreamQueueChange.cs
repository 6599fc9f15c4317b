namespace Federation.Core.Links;

/// <summary>What a new definition of a link changes about the upstream queue its predecessor used (see <see cref="LinkDefinition.UpstreamQueueChangeTo"/>).</summary>
internal enum UpstreamQueueChange
{
    /// <summary>The same queue, declared alike: the new link takes it over with what it buffers.</summary>
    None,

    /// <summary>The same queue, declared with other arguments, which the upstream would refuse: it has to be deleted and declared again.</summary>
    Arguments,

    /// <summary>No URI of the new definition reaches the upstream the old one used: its queue there would be left behind.</summary>
    Upstream,
}
