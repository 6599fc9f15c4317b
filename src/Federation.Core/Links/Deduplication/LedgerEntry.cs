namespace Federation.Core.Links.Deduplication;

/// <summary>One forwarded delivery as the ledger remembers it.</summary>
/// <param name="Identity">The delivery's identity (see <see cref="DeliveryFingerprint"/>).</param>
/// <param name="ConfirmedAtUnixMs">When it was committed downstream, in Unix milliseconds; the window's age counts from here.</param>
internal readonly record struct LedgerEntry(UInt128 Identity, long ConfirmedAtUnixMs);
