using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;

namespace FederationHost.Configuration;

/// <summary>
/// Reads a JSON settings file and keeps the last settings that could be read. The framework's JSON file provider
/// empties its data when a reload fails or the file disappears, silently, and the next unrelated configuration change
/// then applies that empty configuration (and federation with no downstream deletes upstream queues). Here:
/// <list type="bullet">
/// <item>The first load (start) fails with a <see cref="HostConfigurationException"/> naming the file and the problem:
/// not JSON, a duplicate key, nesting deeper than 64, an empty file, a missing file that is not optional.</item>
/// <item>A later load with such a file, or with the file deleted, keeps the data read before, raises no change, and
/// reports the problem to <see cref="LastGoodJsonConfigurationSource.Refused"/> (logged at warning), once while the same
/// problem lasts.</item>
/// <item>A later load that reads the same data as before (a save notified twice, a file saved unchanged) raises no change.</item>
/// </list>
/// </summary>
public sealed class LastGoodJsonConfigurationProvider : ConfigurationProvider, IDisposable
{
    private readonly LastGoodJsonConfigurationSource _source;
    private readonly IDisposable? _watch;
    private readonly Lock _gate = new();
    private bool _loaded;
    private bool _fileWasRead;

    // The keys the last reload changed (added, removed or given another value), for KeysChanged.
    private IReadOnlyList<string> _changedKeys = [];

    // The problem of the last refused reload, until a read succeeds: one save is often notified twice (the file truncated,
    // then written), and each notification found the same problem, so one broken save was logged twice.
    private string? _lastRefusal;

    /// <summary>Creates the provider and, with <c>ReloadOnChange</c>, watches the file.</summary>
    public LastGoodJsonConfigurationProvider(LastGoodJsonConfigurationSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        if (source.ReloadOnChange && source.FileProvider is { } files && source.Path is { } path)
        {
            _watch = ChangeToken.OnChange(() => files.Watch(path), () =>
            {
                // As the framework's provider does: give the writer a moment to finish before reading.
                Thread.Sleep(source.ReloadDelay);
                Reload();
            });
        }
    }

    /// <summary>
    /// Raised after a reload on change that changed the file's settings, with the keys it added, removed or gave another
    /// value (<see cref="OverriddenFileChanges"/> tells the operator when a later source hides them).
    /// </summary>
    public event Action<IReadOnlyList<string>>? KeysChanged;

    /// <summary>The file as the operator knows it: the physical path when there is one.</summary>
    public string FileName => File()?.PhysicalPath ?? _source.Path ?? "(no path)";

    /// <summary>
    /// The first call reads the file or throws <see cref="HostConfigurationException"/>. Later calls (for example
    /// <c>IConfigurationRoot.Reload()</c>) behave as a reload on change: an unusable file keeps the previous data.
    /// </summary>
    public override void Load()
    {
        lock (_gate)
        {
            if (_loaded)
            {
                ReloadLocked(raiseChange: false);
                return;
            }

            var file = File();
            if (file is not { Exists: true })
            {
                Data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
                if (!_source.Optional)
                {
                    throw new HostConfigurationException(JsonSettingsFile.LoadFailure(FileName, "the file does not exist"));
                }
            }
            else if (JsonSettingsFile.TryRead(file, out var data, out var problem))
            {
                Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
                _fileWasRead = true;
            }
            else
            {
                throw new HostConfigurationException(JsonSettingsFile.LoadFailure(FileName, problem));
            }

            _loaded = true;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _watch?.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name} for '{_source.Path}' ({(_source.Optional ? "Optional" : "Required")})";

    private void Reload()
    {
        bool changed;
        IReadOnlyList<string> changedKeys;
        lock (_gate)
        {
            changed = ReloadLocked(raiseChange: true);
            changedKeys = _changedKeys;
        }

        if (changed)
        {
            OnReload();
            KeysChanged?.Invoke(changedKeys);
        }
    }

    /// <returns>Whether the data changed and the change must be raised.</returns>
    private bool ReloadLocked(bool raiseChange)
    {
        var file = File();
        if (file is not { Exists: true })
        {
            if (_fileWasRead)
            {
                // Deleting a settings file is refused like a broken one: to drop its settings, write {} into it.
                Refuse("the file was deleted or cannot be found (write {} into it to remove its settings)");
            }

            return false;
        }

        if (!JsonSettingsFile.TryRead(file, out var data, out var problem))
        {
            Refuse(problem);
            return false;
        }

        _lastRefusal = null;

        // One save is often notified twice (the file is truncated, then written); a read that finds what was read before
        // is no change, and raising one would make every listener report the same reload again.
        var unchanged = _fileWasRead && SameData(Data, data);
        _changedKeys = ChangedKeys(Data, data);
        Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
        _fileWasRead = true;
        return raiseChange && !unchanged;
    }

    /// <summary>Reports a refused reload, unless the last reload was refused for the same problem (the same save, notified again).</summary>
    private void Refuse(string problem)
    {
        if (problem == _lastRefusal)
        {
            return;
        }

        _lastRefusal = problem;
        _source.Refused.Report(FileName, problem);
    }

    private static bool SameData(IDictionary<string, string?> before, IDictionary<string, string?> after) =>
        before.Count == after.Count && after.All(e => before.TryGetValue(e.Key, out var value) && value == e.Value);

    private static List<string> ChangedKeys(IDictionary<string, string?> before, IDictionary<string, string?> after) =>
    [
        .. after.Where(e => !before.TryGetValue(e.Key, out var value) || value != e.Value).Select(e => e.Key)
            .Concat(before.Keys.Where(key => !after.ContainsKey(key)))
            .Order(StringComparer.OrdinalIgnoreCase),
    ];

    private IFileInfo? File() => _source.Path is { } path ? _source.FileProvider?.GetFileInfo(path) : null;
}
