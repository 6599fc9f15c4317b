using Microsoft.Extensions.Configuration;

namespace Federation.Core.Tests.Support;

/// <summary>An in-memory configuration source whose values a test changes and then reloads, as a file watcher would.</summary>
internal sealed class ReloadableConfigurationSource(Dictionary<string, string?> values) : ConfigurationProvider, IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public override void Load() => Data = new Dictionary<string, string?>(values, StringComparer.OrdinalIgnoreCase);

    /// <summary>Sets (or, with null, removes) a value; <see cref="Reload"/> publishes the change.</summary>
    public new void Set(string key, string? value)
    {
        if (value is null)
        {
            values.Remove(key);
        }
        else
        {
            values[key] = value;
        }
    }

    /// <summary>Removes every value, as replacing the file with <c>{}</c> would.</summary>
    public void Clear() => values.Clear();

    public void Reload()
    {
        Load();
        OnReload();
    }
}
