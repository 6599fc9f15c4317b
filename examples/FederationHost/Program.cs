// FederationHost: a standalone federation agent configured only from configuration (appsettings.json, FEDERATION__...
// environment variables, command line), serving link status, restart, health and Prometheus metrics on loopback.
using FederationHost;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;

try
{
    var app = FederationHostApp.Build(args);
    await app.RunAsync();
    return 0;
}
catch (HostConfigurationException error)
{
    // Refuse to start with the reason only: no stack trace for a configuration mistake.
    await Console.Error.WriteLineAsync("FederationHost: " + error.Message);
    return 2;
}
catch (OptionsValidationException error)
{
    // The Federation section failed validation at start; each failure names the key and the value (never credentials).
    await Console.Error.WriteLineAsync("FederationHost: invalid Federation configuration: " + string.Join("; ", error.Failures));
    return 2;
}
