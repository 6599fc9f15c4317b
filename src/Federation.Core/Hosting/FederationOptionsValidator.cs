using Federation.Core.Model;
using Microsoft.Extensions.Options;

namespace Federation.Core.Hosting;

/// <summary>
/// Validates <see cref="FederationOptions"/> at host start, naming each offending key and value. It is deliberately not an
/// <see cref="IValidateOptions{TOptions}"/>: those run inside the options monitor on reload and throw on the thread that
/// raised the change; a bad reload must instead be logged and ignored while the previous configuration keeps running.
/// </summary>
internal static class FederationOptionsValidator
{
    public static ValidateOptionsResult Validate(FederationOptions options)
    {
        var errors = FederationDefinitions.Validate(options).ToList();
        if (string.IsNullOrWhiteSpace(options.Downstream.Uri))
        {
            errors.Add("Downstream:uri: a downstream broker URI is required");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
