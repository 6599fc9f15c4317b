using Federation.Core;
using Federation.Core.Hosting;
using Federation.Core.Model;
using FederationHost.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders.Physical;
using Microsoft.Extensions.Options;

namespace FederationHost.Cli;

/// <summary>
/// <c>validate [FILE]</c>: checks one settings file as the host would read it at start, without connecting to any broker,
/// and prints every problem at once, one per line, each naming its key and value (credentials removed).
/// </summary>
public static class ValidateCommand
{
    /// <summary>The subcommand.</summary>
    public const string Name = "validate";

    // The library's error for a configuration without a downstream (FederationDefinitions.DownstreamRequired).
    private const string DownstreamRequiredPrefix = "Downstream:uri: a downstream broker URI is required";

    private const string Usage = "usage: FederationHost validate [FILE] [--contentRoot DIR]   (default: appsettings.json in the content root, as the host reads it)";

    /// <summary>Validates the file named in <paramref name="args"/> (or the host's appsettings.json).</summary>
    /// <returns>0 when the file is valid, <see cref="HostCommands.Failure"/> when it has problems or cannot be read.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var rest = args.ToList();
        if (!HostSettingsFile.TryFind(rest, out var settings, out var wrong))
        {
            error.WriteLine($"{Name}: {TerminalText.Escape(wrong!)}");
            return HostCommands.Failure;
        }

        if (rest.Count > 1 || rest is [var option] && option.StartsWith('-'))
        {
            error.WriteLine(Usage);
            return HostCommands.Failure;
        }

        var path = rest is [var file] ? Path.GetFullPath(file) : settings!.Path;
        // The file name and every problem (which quotes the file's keys and values) are shown escaped: see TerminalText.
        var shown = TerminalText.Escape(rest is [var given] ? given : Path.GetFileName(path));
        if (!File.Exists(path))
        {
            output.WriteLine($"{shown}: the file does not exist ({TerminalText.Escape(path)}).");
            return HostCommands.Failure;
        }

        if (!JsonSettingsFile.TryRead(new PhysicalFileInfo(new FileInfo(path)), out var data, out var problem))
        {
            output.WriteLine($"{shown}: {TerminalText.Escape(problem ?? "")}");
            return HostCommands.Failure;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(data).Build();
        var (problems, options, brokers) = await CheckAsync(configuration);
        if (problems.Count == 0)
        {
            output.WriteLine($"{shown}: valid: {Summary(HostFeatures.ExchangeFederationConfigured(configuration), options, brokers.Count)}");
            return 0;
        }

        foreach (var line in problems)
        {
            output.WriteLine($"{shown}: {TerminalText.Escape(line)}");
        }

        output.WriteLine($"{shown}: invalid: {problems.Count} problem(s)");
        return HostCommands.Failure;
    }

    /// <summary>
    /// What a valid file configures, naming only what it has: "2 upstreams, 1 policy" for exchange federation (counted even
    /// when 0, since the section is there), "1 federation broker instance" for broker instances, both separated by ", ".
    /// </summary>
    internal static string Summary(bool exchangeFederation, FederationOptions options, int brokers)
    {
        ArgumentNullException.ThrowIfNull(options);
        var parts = new List<string>();
        if (exchangeFederation)
        {
            parts.Add(Count(options.Upstreams.Count, "upstream", "upstreams"));
            parts.Add(Count(options.Policies.Count, "policy", "policies"));
        }

        if (brokers > 0)
        {
            parts.Add(Count(brokers, "federation broker instance", "federation broker instances"));
        }

        return string.Join(", ", parts);
    }

    private static string Count(int count, string one, string many) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{count} {(count == 1 ? one : many)}");

    /// <summary>
    /// The host's own checks in the host's order: the <c>Host</c> section, the <c>Downstream</c> alias, the
    /// <c>FederationBrokers</c> section, then the Federation section bound and validated by the library with the host's
    /// transports, exactly as the engine does before it starts (it is constructed, never started, so nothing connects).
    /// A configuration with broker instances and neither a Federation nor a Downstream section runs no exchange
    /// federation, so it needs no downstream.
    /// </summary>
    internal static async Task<(IReadOnlyList<string> Problems, FederationOptions Options, IReadOnlyList<string> Brokers)> CheckAsync(IConfiguration configuration)
    {
        var problems = new List<string>();
        _ = HostSettings.Read(configuration, problems);
        _ = TelemetrySettings.Read(configuration, problems);
        var alias = DownstreamAlias.Check(configuration);
        problems.AddRange(alias);
        var brokers = FederationBrokerSettings.Read(configuration, problems);
        if (!HostFeatures.ExchangeFederationConfigured(configuration))
        {
            return (problems, new FederationOptions(), brokers);
        }

        var services = new ServiceCollection();
        var federation = services.AddFederation(configuration.GetSection(FederationHostApp.FederationSection));
        TransportRegistration.AddTransports(federation);
        services.AddSingleton<IPostConfigureOptions<FederationOptions>>(new DownstreamAlias(configuration));
        // The engine is only IAsyncDisposable, which a synchronous provider disposal refuses.
        await using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<FederationOptions>>().Value;
        try
        {
            _ = provider.GetRequiredService<FederationEngine>();
        }
        catch (FederationConfigurationException invalid)
        {
            // The alias problems are also reported by the library (the alias adds them to the configuration errors): once is enough.
            // A Downstream:uri in an alias section with mistakes is not applied, so the library then misses the downstream:
            // that follows from the mistake already named, and would only mislead.
            // The same when the alias section has a mistake of its own (Downstream:url): the downstream it meant to give is missing
            // because of that mistake.
            var aliasIgnored = alias.Count > 0;
            problems.AddRange(invalid.Errors.Where(e =>
                !problems.Contains(e, StringComparer.Ordinal) &&
                !(aliasIgnored && e.StartsWith(DownstreamRequiredPrefix, StringComparison.Ordinal))));
        }

        return (problems, options, brokers);
    }
}
