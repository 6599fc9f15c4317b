using Microsoft.Extensions.Configuration;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// An in-memory configuration whose whole content is replaced at once, as when an operator saves a new appsettings.json:
/// a reload may drop sections entirely (unlike a merge of changes).
/// </summary>
public sealed class ReplaceableConfigurationSource(IReadOnlyDictionary<string, string?> initial) : ConfigurationProvider, IConfigurationSource
{
    private Dictionary<string, string?> _current = new(initial, StringComparer.OrdinalIgnoreCase);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public override void Load() => Data = new Dictionary<string, string?>(_current, StringComparer.OrdinalIgnoreCase);

    /// <summary>Replaces every value and raises the reload token once.</summary>
    public void Replace(IReadOnlyDictionary<string, string?> values)
    {
        _current = new Dictionary<string, string?>(values, StringComparer.OrdinalIgnoreCase);
        Load();
        OnReload();
    }
}
