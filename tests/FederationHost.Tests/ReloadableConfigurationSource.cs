using Microsoft.Extensions.Configuration;

namespace FederationHost.Tests;

/// <summary>
/// An in-memory configuration source whose values can be changed and reloaded while the host runs: either some keys
/// at a time (<see cref="Update"/>) or the whole content at once (<see cref="Replace"/>), as when an operator saves a
/// new appsettings.json, where a reload may drop sections entirely.
/// </summary>
public sealed class ReloadableConfigurationSource(IEnumerable<KeyValuePair<string, string?>> initial) : ConfigurationProvider, IConfigurationSource
{
    private readonly Dictionary<string, string?> _values = new(initial, StringComparer.OrdinalIgnoreCase);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public override void Load()
    {
        lock (_values)
        {
            Data = new Dictionary<string, string?>(_values, StringComparer.OrdinalIgnoreCase);
        }
    }

    /// <summary>Changes values (null removes a key), keeps every other key, and raises the reload token once.</summary>
    public void Update(IEnumerable<KeyValuePair<string, string?>> changes)
    {
        lock (_values)
        {
            foreach (var (key, value) in changes)
            {
                if (value is null)
                {
                    _values.Remove(key);
                }
                else
                {
                    _values[key] = value;
                }
            }
        }

        Load();
        OnReload();
    }

    /// <summary>Replaces every value (a key not in <paramref name="values"/> is gone) and raises the reload token once.</summary>
    public void Replace(IEnumerable<KeyValuePair<string, string?>> values)
    {
        lock (_values)
        {
            _values.Clear();
            foreach (var (key, value) in values)
            {
                _values[key] = value;
            }
        }

        Load();
        OnReload();
    }
}
