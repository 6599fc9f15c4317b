using Federation.Core.Model;
using Federation.Core.Transport;
using Microsoft.Extensions.Options;

namespace Federation.Core.Hosting;

/// <summary>
/// Validates <see cref="FederationOptions"/> at host start with the engine's own validation (so start and reload accept
/// exactly the same configurations), naming each offending key and value. It is deliberately not an
/// <see cref="IValidateOptions{TOptions}"/>: those run inside the options monitor on reload and throw on the thread that
/// raised the change; a bad reload must instead be logged and ignored while the previous configuration keeps running.
/// </summary>
internal static class FederationOptionsValidator
{
    public static ValidateOptionsResult Validate(FederationOptions options, IEnumerable<ITransport> transports)
    {
        var errors = FederationDefinitions.Validate(options, new TransportResolver(transports));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
