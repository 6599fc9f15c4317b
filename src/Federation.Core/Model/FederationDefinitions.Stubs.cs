using Federation.Core.Transport;

namespace Federation.Core.Model;

// STUB: replaced by the model work (validation + resolution). Signatures are the contract the engine uses.
internal sealed partial class FederationDefinitions
{
    /// <summary>Validates <paramref name="options"/> and snapshots it. Throws <see cref="FederationConfigurationException"/> listing every error.</summary>
    public static FederationDefinitions Create(FederationOptions options) => throw new NotImplementedException();

    /// <summary>Returns every validation error (empty when valid). Each names the key path in rabbitmqctl spelling and the bad value.</summary>
    public static IReadOnlyList<string> Validate(FederationOptions options) => throw new NotImplementedException();

    /// <summary>The policy that applies to <paramref name="exchange"/> and the upstream elements it federates from.</summary>
    public FederationResolution Resolve(ExchangeSpec exchange) => throw new NotImplementedException();
}
