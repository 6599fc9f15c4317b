using System.Text.Json;
using System.Text.Json.Nodes;

namespace FederationHost.Tests.BadInput;

/// <summary>
/// An appsettings.json text for one bad-input row: a known-good document with one or two edits, so that each row of the
/// tables reads as the single mistake it tests. The good document federates <c>federated.orders</c> from the upstream
/// <c>origin</c> (whose URI carries <see cref="PlantedSecret"/>) through the set <c>primary</c> and the policy <c>federate</c>.
/// Placeholders (<see cref="ClosedPortToken"/> and friends) are replaced with real ports when a row runs.
/// </summary>
public sealed class SettingsDocument
{
    /// <summary>A password planted in every document; it must never appear in anything the host writes.</summary>
    public const string PlantedSecret = "pl4nted-S3cret-never-shown";

    /// <summary>Replaced by a loopback port nothing listens on, for amqp:// and nats:// URIs that must fail fast.</summary>
    public const string ClosedPortToken = "{closed-port}";

    /// <summary>Replaced by a loopback port that a listener of the test occupies while the row runs.</summary>
    public const string OccupiedPortToken = "{occupied-port}";

    /// <summary>Replaced by a loopback port that was free a moment ago.</summary>
    public const string FreePortToken = "{free-port}";

    private const string GoodText = $$"""
        {
          "Logging": { "LogLevel": { "Default": "Information", "Microsoft.AspNetCore": "Warning" } },
          "Host": { "Url": "http://127.0.0.1:0", "Demo": { "Exchanges": [ "federated.orders" ] } },
          "Federation": {
            "ClusterName": "local",
            "Downstream": { "uri": "memory://local/%2f" },
            "Upstreams": { "origin": { "uri": "memory://federator:{{PlantedSecret}}@origin/%2f", "max-hops": 1, "reconnect-delay": 1 } },
            "UpstreamSets": { "primary": [ { "upstream": "origin", "exchange": "federated.orders" } ] },
            "Policies": {
              "federate": { "pattern": "^federated\\.", "apply-to": "exchanges", "priority": 10, "definition": { "federation-upstream-set": "primary" } }
            }
          }
        }
        """;

    // Relaxed escaping keeps the written file as readable as the rows (no \u0026 for &).
    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private SettingsDocument(string text)
    {
        Text = text;
    }

    /// <summary>The good document: the host starts with it.</summary>
    public static SettingsDocument Good { get; } = new(GoodText);

    /// <summary>The document text as written to appsettings.json.</summary>
    public string Text { get; }

    /// <summary>A document that is exactly <paramref name="text"/>, for files that are not JSON or not well-formed.</summary>
    public static SettingsDocument Raw(string text) => new(text);

    /// <summary>
    /// Sets the value at <paramref name="path"/> (configuration style, <c>Federation:Upstreams:origin:max-hops</c>;
    /// numbers index arrays) to the JSON <paramref name="json"/>, creating objects on the way.
    /// </summary>
    public SettingsDocument With(string path, string json) =>
        Edit(path, (parent, key) =>
        {
            var value = JsonNode.Parse(json);
            if (parent is JsonArray array)
            {
                array[int.Parse(key, System.Globalization.CultureInfo.InvariantCulture)] = value;
            }
            else
            {
                parent.AsObject()[key] = value;
            }
        });

    /// <summary>Sets the value at <paramref name="path"/> to the string <paramref name="value"/>.</summary>
    public SettingsDocument WithString(string path, string value) => With(path, JsonSerializer.Serialize(value, WriteOptions));

    /// <summary>Removes the value at <paramref name="path"/>.</summary>
    public SettingsDocument Without(string path) =>
        Edit(path, (parent, key) =>
        {
            if (parent is JsonArray array)
            {
                array.RemoveAt(int.Parse(key, System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                parent.AsObject().Remove(key);
            }
        });

    /// <summary>The text with the port placeholders replaced.</summary>
    public string Render(int closedPort, int occupiedPort, int freePort) => Text
        .Replace(ClosedPortToken, closedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace(OccupiedPortToken, occupiedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace(FreePortToken, freePort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    public override string ToString() => Text;

    private SettingsDocument Edit(string path, Action<JsonNode, string> change)
    {
        var root = JsonNode.Parse(Text) ?? throw new InvalidOperationException("The document is not a JSON object.");
        var keys = path.Split(':');
        var parent = root;
        foreach (var key in keys[..^1])
        {
            var child = parent is JsonArray array
                ? array[int.Parse(key, System.Globalization.CultureInfo.InvariantCulture)]
                : parent.AsObject()[key];
            if (child is null)
            {
                child = new JsonObject();
                parent.AsObject()[key] = child;
            }

            parent = child;
        }

        change(parent, keys[^1]);
        return new SettingsDocument(root.ToJsonString(WriteOptions));
    }
}
