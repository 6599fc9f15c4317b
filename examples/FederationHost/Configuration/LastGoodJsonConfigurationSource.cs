using Microsoft.Extensions.Configuration;

namespace FederationHost.Configuration;

/// <summary>
/// A JSON settings file (like <c>AddJsonFile</c>: path, optional, reload on change, file provider) whose reloads never
/// replace good settings with unusable ones; see <see cref="LastGoodJsonConfigurationProvider"/>.
/// </summary>
/// <param name="refused">Where refused reloads are reported.</param>
public sealed class LastGoodJsonConfigurationSource(RefusedFileChanges refused) : FileConfigurationSource
{
    /// <summary>Where refused reloads are reported.</summary>
    public RefusedFileChanges Refused { get; } = refused;

    /// <inheritdoc/>
    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new LastGoodJsonConfigurationProvider(this);
    }
}
