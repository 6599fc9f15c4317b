namespace Federation.Core.Links.Ownership;

/// <summary>The kinds of <see cref="NamesakeNotice"/>.</summary>
internal enum NamesakeNoticeKind
{
    /// <summary>A new run of this name was heard that started after this one: it stands aside, this one acts.</summary>
    Heard,

    /// <summary>This run stands aside for an earlier run of its name: it runs no link until that one is gone.</summary>
    StandingAside,

    /// <summary>The run this one stood aside for stopped or went silent: this one acts under the name again.</summary>
    Resumed,
}
