namespace Federation.Core.Hops;

/// <summary>
/// The only place the federation hop rules live: the forward check and the <c>x-received-from</c> trail of messages,
/// and the hops and <c>x-bound-from</c> trail of propagated bindings, with the plugin's wire format.
/// </summary>
/// <remarks>
/// Reads are tolerant of what other adapters hand in (any list or dictionary implementation, text as UTF-8
/// <see cref="byte"/>[], integers of any width); writes always produce the normalised header representation every
/// transport maps to: <see cref="List{T}"/> arrays, ordinal <see cref="Dictionary{TKey,TValue}"/> tables,
/// <see cref="string"/> text. Values read from the input are never modified, because they may be shared. The rules take
/// header and argument tables, never a transport's message type, so that they depend on nothing else in the library.
/// </remarks>
public static partial class HopRules;
