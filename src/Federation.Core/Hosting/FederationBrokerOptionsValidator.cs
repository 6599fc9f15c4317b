using Federation.Core.Collectives;
using Federation.Core.Transport;
using Federation.Core.Transport.Messaging;
using Microsoft.Extensions.Options;

namespace Federation.Core.Hosting;

/// <summary>Validates every named <see cref="FederationBrokerOptions"/>; each error starts with <c>FederationBrokers:&lt;name&gt;:&lt;key&gt;</c>.</summary>
/// <remarks>
/// Beyond the options' own rules, each URI must have a scheme a registered subject transport serves, and that transport
/// must accept it (<see cref="ISubjectTransport.ValidateUri"/>): a typo in a scheme or a missing TLS file is then an
/// error at start naming the key, with every other error, rather than the first connect's exception.
/// </remarks>
internal sealed class FederationBrokerOptionsValidator(IEnumerable<ISubjectTransport> transports) : IValidateOptions<FederationBrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, FederationBrokerOptions options)
    {
        var prefix = $"FederationBrokers:{name}:";
        var errors = FederationBrokerOptionsValidation.Validate(options, prefix);

        // Each URI that is well formed goes to its transport whatever else is wrong, so that one run reports every error
        // (a bad Workers next to a misspelt scheme), not the scheme only once the rest is fixed.
        var checkedErrors = errors.Count;
        CheckTransportUnlessReported(prefix + nameof(options.FederationUri), options.FederationUri, errors, checkedErrors);
        CheckTransportUnlessReported(prefix + nameof(options.CollectiveUri), options.CollectiveUri, errors, checkedErrors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    // The options' own checks (the first checkedErrors errors) already said what is wrong with this URI, if anything.
    private void CheckTransportUnlessReported(string key, string? uri, List<string> errors, int checkedErrors)
    {
        if (uri is not null && !errors.Take(checkedErrors).Any(e => e.StartsWith(key + ":", StringComparison.Ordinal)))
        {
            CheckTransport(key, uri, errors);
        }
    }

    private void CheckTransport(string key, string uri, List<string> errors)
    {
        ISubjectTransport transport;
        try
        {
            // The resolver's message names the scheme (unless it may be part of a credential) and how to register one.
            transport = new SubjectTransportResolver(transports).Resolve(uri);
        }
        catch (ArgumentException error)
        {
            errors.Add($"{key}: {WithoutParameterName(error)}");
            return;
        }

        foreach (var problem in transport.ValidateUri(uri))
        {
            errors.Add($"{key}: {problem}");
        }
    }

    private static string WithoutParameterName(ArgumentException error) =>
        error.ParamName is null ? error.Message : error.Message.Replace($" (Parameter '{error.ParamName}')", string.Empty, StringComparison.Ordinal);
}
