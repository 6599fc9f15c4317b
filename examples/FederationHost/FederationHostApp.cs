using System.Diagnostics.Metrics;
using System.Net;
using Federation.Core;
using Federation.Core.Hosting;
using Federation.Core.InMemory;
using Federation.Core.Model;
using Federation.Core.Transport;
using FederationHost.Cli;
using FederationHost.Configuration;
using FederationHost.Endpoints;
using FederationHost.Logging;
using FederationHost.Metrics;
using FederationHost.Telemetry;
using FederationHost.Startup;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace FederationHost;

/// <summary>
/// The composition of the federation agent, shared by <c>Program</c> and the tests: configuration (appsettings.json
/// with reload, environment variables, command line), exchange federation from the <c>Federation</c> section, Federation
/// of Collectives broker instances from the <c>FederationBrokers</c> section (either or both, see <see cref="HostFeatures"/>),
/// transports, the loopback-only HTTP listener and the endpoints.
/// </summary>
public static partial class FederationHostApp
{
    /// <summary>The configuration section the library binds.</summary>
    public const string FederationSection = FederationOptions.SectionName;

    /// <summary>Builds the application without starting it.</summary>
    /// <param name="args">Command-line arguments (<c>--Federation:Downstream:uri=...</c>, <c>--Host:Url=...</c>).</param>
    /// <param name="extra">Adds or replaces configuration sources after the defaults (tests use it to start from a clean slate).</param>
    /// <exception cref="HostConfigurationException">
    /// A settings file cannot be read, or the <c>Host</c>, <c>Downstream</c>, <c>Telemetry</c> or <c>FederationBrokers</c>
    /// section is unusable, for example a non-loopback <c>Host:Url</c> or an unknown key; every problem is listed.
    /// </exception>
    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? extra = null)
    {
        // The content root is the binary's folder so that `dotnet run --project ...` finds appsettings.json from any
        // working directory; CreateBuilder already loads it with reloadOnChange, then environment and command line.
        // An explicit --contentRoot (or DOTNET_/ASPNETCORE_CONTENTROOT) still wins, to point the host at another appsettings.json.
        WebApplicationBuilder builder;
        try
        {
            builder = WebApplication.CreateBuilder(new WebApplicationOptions
            {
                Args = args,
                ContentRootPath = HasExplicitContentRoot(args) ? null : AppContext.BaseDirectory,
            });
        }
        catch (DirectoryNotFoundException error)
        {
            // The framework names only the path; say which setting pointed there.
            throw new HostConfigurationException([$"contentRoot: the directory does not exist ({error.Message.Replace("Could not find a part of the path ", string.Empty, StringComparison.Ordinal).Trim('\'', '.')})."]);
        }
        catch (InvalidDataException error) when (error.InnerException is { } cause)
        {
            // The framework's JSON provider reads appsettings files as CreateBuilder adds them; its message names the file.
            throw new HostConfigurationException($"{error.Message.TrimEnd('.')}: {JsonSettingsFile.Describe(cause)}", error);
        }

        extra?.Invoke(builder.Configuration);

        // From here on, a settings file changed into something unreadable (or deleted) keeps its last good settings.
        var refusedChanges = new RefusedFileChanges();
        LastGoodJsonFiles.Use(builder.Configuration, refusedChanges);

        var startupLog = new StartupErrorLogFilter(builder.Configuration);
        builder.Logging.AddFilter(StartupErrorLogFilter.Category, startupLog.IsEnabled);

        // The console logger applies Logging:Console:FormatterOptions (a TimestampFormat, say) only when a formatter is
        // named: without Logging:Console:FormatterName they were ignored at start and applied from the first reload of
        // appsettings.json on. A name the configuration gives (json, systemd) is kept.
        builder.Services.PostConfigure<ConsoleLoggerOptions>(options => options.FormatterName ??= ConsoleFormatterNames.Simple);
        UseTerminalSafeConsole(builder.Services);

        var problems = new List<string>();
        var settings = HostSettings.Read(builder.Configuration, problems);
        problems.AddRange(DownstreamAlias.Check(builder.Configuration));
        var telemetry = TelemetrySettings.Read(builder.Configuration, problems);
        var brokers = FederationBrokerSettings.Read(builder.Configuration, problems);
        if (settings is null || telemetry is null || problems.Count > 0)
        {
            // Every problem at once, as `validate` lists them: the Federation section's too, which the library would check
            // only at a start after these are fixed. Nothing connects: the engine is only constructed.
            // On the thread pool: no synchronization context can then deadlock the wait, whoever calls Build.
            var all = Task.Run(() => ValidateCommand.CheckAsync(builder.Configuration)).GetAwaiter().GetResult().Problems;
            throw new HostConfigurationException(all.Count > 0 ? all : problems);
        }

        ConfigureListener(builder.WebHost, settings);

        var features = new HostFeatures(HostFeatures.ExchangeFederationConfigured(builder.Configuration), brokers);
        if (features.ExchangeFederation)
        {
            AddExchangeFederation(builder, settings);
        }
        else
        {
            // Only broker instances: the link endpoints, the status page and `status` show an empty list, not a missing downstream.
            builder.Services.AddSingleton<IFederationStatus, NoExchangeFederation>();
        }

        if (features.Brokers)
        {
            FederationBrokerSettings.Register(builder.Services, builder.Configuration, brokers, settings.CreateInMemoryBrokers);
        }

        builder.Services.AddSingleton(features);
        // Registered by AddFederationBroker too (once); here also for a host without instances, whose broker list is empty.
        builder.Services.TryAddSingleton<FederationBrokerInstances>();
        builder.Services.AddSingleton<HostHealth>();
        builder.Services.AddSingleton(sp => new BrokerSettingsReload(
            builder.Configuration, features, sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(BrokerSettingsReload).FullName!)));
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(sp => new HostSettingsReload(
            builder.Configuration, sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HostSettingsReload).FullName!)));
        builder.Services.AddSingleton(refusedChanges);
        builder.Services.AddSingleton(sp => new MeterAggregator(settings.MeterNames, sp.GetService<IMeterFactory>()));
        builder.Services.AddHostTelemetry(settings, telemetry);

        var app = builder.Build();

        // Created now, before the engine's instruments exist, so no measurement is missed.
        _ = app.Services.GetRequiredService<MeterAggregator>();
        // Watching from the start, so that a mistake saved into the Host section while the host runs is reported then.
        _ = app.Services.GetRequiredService<HostSettingsReload>();
        _ = app.Services.GetRequiredService<BrokerSettingsReload>();
        refusedChanges.LogTo(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RefusedFileChanges).FullName!));
        OverriddenFileChanges.Watch((IConfigurationRoot)app.Configuration, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OverriddenFileChanges).FullName!));
        app.UseBrowserRequestGuard(settings);
        app.MapFederationEndpoints();
        app.Lifetime.ApplicationStarted.Register(startupLog.Started);
        app.Lifetime.ApplicationStarted.Register(() => LogStarted(app));
        return app;
    }

    /// <summary>
    /// Exchange federation from the <c>Federation</c> section (and the <c>Downstream</c> alias), with the host's transports,
    /// the in-memory brokers of the demo and the demo exchanges.
    /// </summary>
    private static void AddExchangeFederation(WebApplicationBuilder builder, HostSettings settings)
    {
        var federation = builder.Services.AddFederation(builder.Configuration.GetSection(FederationSection));
        TransportRegistration.AddTransports(federation);

        // Post-configure steps run in registration order on start and on every reload: alias first, so the
        // provisioner also sees a downstream given only as Downstream:uri.
        builder.Services.AddSingleton<IPostConfigureOptions<FederationOptions>>(new DownstreamAlias(builder.Configuration));
        if (settings.CreateInMemoryBrokers)
        {
            builder.Services.AddSingleton<IPostConfigureOptions<FederationOptions>, InMemoryBrokerProvisioner>();
        }

        if (settings.DemoExchanges.Count > 0)
        {
            builder.Services.AddHostedService<DemoExchangeDeclarer>();
        }
    }

    /// <summary>
    /// Puts the console logger behind <see cref="TerminalSafeConsoleLoggerProvider"/>: the same provider, its options and its
    /// filters, with control characters in messages escaped.
    /// </summary>
    private static void UseTerminalSafeConsole(IServiceCollection services)
    {
        var console = services.Where(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider)).ToList();
        if (console.Count == 0)
        {
            return; // No console logging configured: nothing to wrap.
        }

        foreach (var descriptor in console)
        {
            services.Remove(descriptor);
        }

        services.AddSingleton<ConsoleLoggerProvider>();
        services.AddSingleton<ILoggerProvider>(sp => new TerminalSafeConsoleLoggerProvider(sp.GetRequiredService<ConsoleLoggerProvider>()));
    }

    /// <summary>
    /// Binds exactly one endpoint. Replacing Kestrel's configuration loader with an empty one makes <c>Kestrel:Endpoints</c>
    /// and <c>urls</c>/<c>ASPNETCORE_URLS</c> unable to open other listeners than the checked <c>Host:Url</c>.
    /// </summary>
    private static void ConfigureListener(IWebHostBuilder webHost, HostSettings settings)
    {
        webHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Configure(new ConfigurationBuilder().Build(), reloadOnChange: false);
            if (settings.Address is null)
            {
                kestrel.ListenLocalhost(settings.Port);
            }
            else
            {
                kestrel.Listen(new IPEndPoint(settings.Address, settings.Port));
            }
        });
    }

    private static bool HasExplicitContentRoot(string[] args) =>
        args.Any(a => a.TrimStart('-', '/').StartsWith("contentRoot", StringComparison.OrdinalIgnoreCase)) ||
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOTNET_CONTENTROOT")) ||
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_CONTENTROOT"));

    private static void LogStarted(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("FederationHost");
        if (!logger.IsEnabled(LogLevel.Information))
        {
            return;
        }

        var urls = string.Join(", ", app.Urls);
        var features = app.Services.GetRequiredService<HostFeatures>();
        if (features.ExchangeFederation)
        {
            var options = app.Services.GetRequiredService<IOptionsMonitor<FederationOptions>>().CurrentValue;
            var downstream = options.Downstream.Uri is { Length: > 0 } uri ? UriRedaction.Redact(uri) : "(none)";
            LogListening(logger, urls, downstream, options.Upstreams.Count, options.Policies.Count);
        }
        else
        {
            // "downstream (none), 0 upstream(s)" read as a host that runs nothing, or whose Federation section was lost.
            var names = string.Join(", ", features.BrokerNames);
            LogListeningBrokersOnly(logger, urls, features.BrokerNames.Count, names);
        }

        if (features.Brokers)
        {
            var brokers = app.Services.GetRequiredService<IOptionsMonitor<Federation.Core.Collectives.FederationBrokerOptions>>();
            foreach (var name in features.BrokerNames)
            {
                var broker = brokers.Get(name);
                var federationUri = UriRedaction.Redact(broker.FederationUri ?? "");
                var collectiveUri = UriRedaction.Redact(broker.CollectiveUri ?? "");
                LogBroker(logger, name, broker.ClusterName ?? name, broker.InstanceName ?? name, federationUri, collectiveUri);
            }
        }
    }

    [LoggerMessage(EventId = 5000, Level = LogLevel.Information,
        Message = "Federation host listening on {Urls}; downstream {Downstream}, {Upstreams} upstream(s), {Policies} policy(ies).")]
    private static partial void LogListening(ILogger logger, string urls, string downstream, int upstreams, int policies);

    [LoggerMessage(EventId = 5013, Level = LogLevel.Information,
        Message = "Federation host listening on {Urls}; {Count} federation broker instance(s) ({Names}) and no exchange federation (no Federation or Downstream section).")]
    private static partial void LogListeningBrokersOnly(ILogger logger, string urls, int count, string names);

    [LoggerMessage(EventId = 5009, Level = LogLevel.Information,
        Message = "Federation broker instance '{Name}': cluster {Cluster}, instance {Instance}, federation {FederationUri}, collective {CollectiveUri}.")]
    private static partial void LogBroker(ILogger logger, string name, string cluster, string instance, string federationUri, string collectiveUri);
}
