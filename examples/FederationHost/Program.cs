// FederationHost: a standalone federation agent configured only from configuration (appsettings.json, FEDERATION__...
// environment variables, command line), serving link status, restart, health and Prometheus metrics on loopback.
using FederationHost;
using FederationHost.Cli;
using FederationHost.Startup;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

// `validate`, `status` and `restart` are operator commands of the same binary (another bare word is refused as a misspelt
// command); settings, or no argument, start the host.
if (HostCommands.IsCommand(args))
{
    return await HostCommands.RunAsync(args, Console.Out, Console.Error);
}

IConfiguration? configuration = null;
WebApplication app;
try
{
    app = FederationHostApp.Build(args, sources => configuration = sources as IConfiguration);
    await app.StartAsync();
}
catch (Exception error)
{
    // Any start-up error, whatever its type, ends in exit code 2 and one line per problem on stderr.
    return await StartupFailure.ReportAsync(error, configuration, args, Console.Error);
}

await app.WaitForShutdownAsync();
await app.DisposeAsync();
return 0;
