namespace Federation.Core.Links;

/// <summary>A change a link must mirror upstream: a binding group appeared (<paramref name="Add"/>) or disappeared.</summary>
internal readonly record struct BindingCommand(bool Add, BindingGroupKey Group);
