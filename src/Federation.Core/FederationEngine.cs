using Federation.Core.Diagnostics;
using Federation.Core.Links;
using Federation.Core.Model;
using Federation.Core.Topology;
using Federation.Core.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Core;

/// <summary>
/// Exchange federation for one downstream broker: it watches the downstream's exchanges and bindings, and runs one link
/// per (federated exchange, upstream element). Hosts normally get one through <c>AddFederation()</c>; tests and
/// simulations can create engines directly.
/// </summary>
public sealed class FederationEngine : IFederationStatus, IAsyncDisposable
{
    private readonly LinkSupervisor _supervisor;
    private readonly TransportResolver _transports;
    private readonly FederationTelemetry _telemetry;
    private readonly bool _ownsTelemetry;
    private readonly IDisposable _gaugeRegistration;
    private int _started;
    private int _stopped;
    private int _disposed;

    /// <summary>
    /// Creates an engine. The options are validated whole (the downstream URI, every URI against the registered
    /// transports, references between policies, sets and upstreams, patterns) and copied; later changes go through
    /// <see cref="UpdateAsync"/>, which applies the same validation.
    /// </summary>
    /// <param name="options">The federation configuration; <see cref="FederationOptions.Downstream"/> must name the downstream broker.</param>
    /// <param name="transports">Transports by URI scheme, for the downstream and every upstream.</param>
    /// <param name="loggerFactory">Logging; none by default.</param>
    /// <param name="telemetry">Metrics; a private meter by default.</param>
    /// <param name="timeProvider">Clock for reconnect delays; the system clock by default.</param>
    /// <param name="explicitTopology">
    /// Explicit mode: the exchanges and bindings the host declares, which the engine declares on the downstream broker and
    /// federates, instead of observing the downstream broker. <see langword="null"/> (the default) observes it.
    /// </param>
    /// <exception cref="FederationConfigurationException">The options are invalid; the exception lists every problem.</exception>
    public FederationEngine(
        FederationOptions options,
        IEnumerable<ITransport> transports,
        ILoggerFactory? loggerFactory = null,
        FederationTelemetry? telemetry = null,
        TimeProvider? timeProvider = null,
        ExplicitTopology? explicitTopology = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(transports);
        _transports = new TransportResolver(transports);
        var definitions = FederationDefinitions.Create(options, _transports);

        _ownsTelemetry = telemetry is null;
        _telemetry = telemetry ?? new FederationTelemetry();
        // Exceptions from client libraries are logged too; their text is redacted on the way out.
        var logging = loggerFactory is null ? NullLoggerFactory.Instance : RedactingLoggerFactory.Wrap(loggerFactory);
        _supervisor = new LinkSupervisor(definitions, _transports, _telemetry, logging, timeProvider ?? TimeProvider.System, explicitTopology);
        _gaugeRegistration = _telemetry.RegisterLinkCounts(() => LinkStateNames.CountEach(GetLinks()), () => _supervisor.InstanceName);
    }

    /// <inheritdoc />
    public string? ClusterName => _supervisor.ClusterName;

    /// <summary>The A/B memory of the engine's links (tests look).</summary>
    internal Links.LinkGenerations LinkGenerations => _supervisor.Generations;

    /// <summary>How many runs of other instances the presence remembers warning about for their lease place (tests look).</summary>
    internal int LeaseWarningsKept => _supervisor.LeaseWarningsKept;

    /// <summary>Runs of another instance with this engine's InstanceName that it currently hears (tests look).</summary>
    internal int NamesakesKept => _supervisor.NamesakesKept;

    /// <summary>What this instance has heard of the others, with link leases; null without (tests look).</summary>
    internal Links.Ownership.LinkOwnership? Ownership => _supervisor.Ownership;

    /// <summary>How many second looks at removed or moved links' upstream queues are pending (tests look).</summary>
    internal int SweepsPending => _supervisor.SweepsPending;

    /// <inheritdoc />
    public bool IsDownstreamConnected => _supervisor.DownstreamConnected;

    /// <inheritdoc />
    public string? DownstreamError => _supervisor.DownstreamError;

    /// <inheritdoc />
    public string? DownstreamBlocked => _supervisor.DownstreamBlocked;

    /// <inheritdoc />
    public string? DownstreamTopologyUnobserved => _supervisor.DownstreamTopologyUnobserved;

    /// <inheritdoc />
    public string? InstanceConflict => _supervisor.InstanceConflict;

    /// <inheritdoc />
    public string? OwnHeartbeatsUnheard => _supervisor.OwnHeartbeatsUnheard;

    /// <summary>
    /// Starts connecting to the downstream and running links in the background. Returns at once; watch <see cref="GetLinks"/>.
    /// Calling it again while the engine runs does nothing. An engine runs once: after <see cref="StopAsync"/> it cannot be
    /// started again; create a new engine with the same options instead.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    /// <exception cref="InvalidOperationException">The engine was stopped (<see cref="StopAsync"/>).</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();

        // Stopping cancels what the links and the downstream run under for good; a silent no-op here would leave a caller
        // that expects federation to resume with nothing running and nothing said.
        if (Volatile.Read(ref _stopped) != 0)
        {
            throw new InvalidOperationException(
                "This FederationEngine was stopped and cannot be started again: create a new FederationEngine (with the same options) and start that one.");
        }

        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _supervisor.Start();
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Applies new options, as <c>set_parameter</c> / <c>set_policy</c> / <c>clear_policy</c> would: links whose resolved
    /// upstream or exchange changed in how they move messages restart, new ones start, removed ones stop; links whose
    /// change does not move messages differently (the policy's name, the reconnect schedule, the cleanup mode) take it
    /// over as they run, keeping their upstream queue; others keep running untouched.
    /// The options are validated exactly as by the constructor before anything changes, because stopping a link deletes
    /// its upstream queue: only a valid configuration may remove links.
    /// </summary>
    /// <exception cref="FederationConfigurationException">
    /// The options are invalid; the exception lists every error, and nothing was changed (every link keeps running).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The engine was disposed.</exception>
    public Task UpdateAsync(FederationOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfDisposed();
        var definitions = FederationDefinitions.Create(options, _transports);
        return _supervisor.ReconfigureAsync(definitions).WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Applies new options as <see cref="UpdateAsync"/> does, unless they amount to the configuration that runs now
    /// (a settings file saved twice, or changed elsewhere than in the federation's keys); then nothing is done or logged.
    /// </summary>
    /// <returns>Whether the options were applied.</returns>
    /// <exception cref="FederationConfigurationException">The options are invalid; nothing was changed.</exception>
    internal Task<bool> UpdateIfChangedAsync(FederationOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfDisposed();
        var definitions = FederationDefinitions.Create(options, _transports);
        return _supervisor.ReconfigureIfChangedAsync(definitions).WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Stops every link cleanly (deleting upstream queues unless <c>resource-cleanup-mode</c> is <c>never</c>) and
    /// disconnects. Connect attempts in flight are abandoned at once, whatever the brokers do. A stopped engine cannot be
    /// started again (<see cref="StartAsync"/> throws): create a new one to federate again.
    /// </summary>
    /// <param name="cancellationToken">
    /// Ends the clean stop early, as a host's shutdown deadline does: what is still stopping is abandoned and logged at
    /// warning, and the method returns without throwing.
    /// </param>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _stopped, 1);
        return _supervisor.StopAsync(cancellationToken);
    }

    /// <inheritdoc />
    public IReadOnlyList<LinkStatus> GetLinks() => _supervisor.GetStatuses();

    /// <inheritdoc />
    public LinkStatus? FindLink(string id) => GetLinks().FirstOrDefault(l => l.Id == id);

    /// <inheritdoc />
    public Task<bool> RestartLinkAsync(string id, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return _supervisor.RestartLinkAsync(id).WaitAsync(cancellationToken);
    }

    /// <summary>Stops as <see cref="StopAsync"/> does, without a deadline, and releases the engine. Calling it again does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _supervisor.DisposeAsync().ConfigureAwait(false);
        _gaugeRegistration.Dispose();
        if (_ownsTelemetry)
        {
            _telemetry.Dispose();
        }
    }

    // The public type is named, not the internal one whose loop would otherwise refuse the call.
    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
