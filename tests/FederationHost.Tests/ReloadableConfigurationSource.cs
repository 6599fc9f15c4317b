using Microsoft.Extensions.Configuration;

namespace FederationHost.Tests;

/// <summary>An in-memory configuration source whose values can be changed and reloaded while the host runs.</summary>
public sealed class ReloadableConfigurationSource(IDictionary<string, string?> initial) : ConfigurationProvider, IConfigurationSource
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

    /// <summary>Changes values (null removes a key) and raises the reload token once.</summary>
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
}
