using Federation.Core.Collectives;
using Microsoft.Extensions.Options;

namespace Federation.Core.Hosting;

/// <summary>Validates every named <see cref="FederationBrokerOptions"/>; each error starts with <c>FederationBrokers:&lt;name&gt;:&lt;key&gt;</c>.</summary>
internal sealed class FederationBrokerOptionsValidator : IValidateOptions<FederationBrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, FederationBrokerOptions options)
    {
        var errors = FederationBrokerOptionsValidation.Validate(options, $"FederationBrokers:{name}:");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
