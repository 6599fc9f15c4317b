using Federation.Core.Model;
using Microsoft.Extensions.Options;

namespace Federation.Core.Hosting;

/// <summary>Validates <see cref="FederationOptions"/> at host start and on every reload, naming each offending key and value.</summary>
internal sealed class FederationOptionsValidator : IValidateOptions<FederationOptions>
{
    public ValidateOptionsResult Validate(string? name, FederationOptions options)
    {
        var errors = FederationDefinitions.Validate(options).ToList();
        if (string.IsNullOrWhiteSpace(options.Downstream.Uri))
        {
            errors.Add("Downstream:uri: a downstream broker URI is required");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
