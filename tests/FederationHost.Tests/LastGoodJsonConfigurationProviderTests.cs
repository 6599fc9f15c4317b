using FederationHost.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;

namespace FederationHost.Tests;

/// <summary>A settings file that cannot be read is a start-up error, and on reload it never replaces the settings read before.</summary>
public sealed class LastGoodJsonConfigurationProviderTests : IDisposable
{
    private const string Good = """{ "Federation": { "Downstream": { "uri": "memory://good/%2f" } }, "Host": { "Metrics": { "Meters": [ "A", "B" ] } } }""";

    private readonly string _directory = Directory.CreateTempSubdirectory("last-good-json-").FullName;
    private readonly CapturedLogs _logs = new();
    private readonly RefusedFileChanges _refused = new();
    private readonly PhysicalFileProvider _files;

    public LastGoodJsonConfigurationProviderTests()
    {
        _files = new PhysicalFileProvider(_directory);
        _refused.LogTo(_logs.CreateLogger("test"));
    }

    private string FilePath => Path.Combine(_directory, "appsettings.json");

    public static TheoryData<string, string> Unreadable => new()
    {
        { """{ "Federation": { "Downstream": """, "not valid JSON" },
        { """{ "a": 1, "A": 2 }""", "A duplicate key 'A' was found" },
        { """{ "Upstreams": { "up": { "uri": "x" }, "Up": { "uri": "y" } } }""", "names that differ only in case (an upstream 'up' and 'Up', say) are the same key" },
        // Two sections of one name: the framework's parser merges them without a word (its keys differ), so an appended
        // "Upstreams": {} meant to replace the block above would leave every upstream running.
        { """{ "Federation": { "Upstreams": { "up": { "uri": "x" } }, "Upstreams": {} } }""", "A duplicate key 'Federation:Upstreams' was found" },
        { """{ "Federation": { "Upstreams": { "up": { "uri": "x" } }, "upstreams": { "down": { "uri": "y" } } } }""", "A duplicate key 'Federation:upstreams' was found" },
        { """{ "Host": { "Metrics": { "Meters": [ "A" ], "Meters": [] } } }""", "A duplicate key 'Host:Metrics:Meters' was found" },
        { """{ "Host": { "Demo": { "Exchanges": [ { "a": 1, "a": {} } ] } } }""", "A duplicate key 'Host:Demo:Exchanges:0:a' was found" },
        { "", "the file is empty" },
        { " \n\t ", "the file is empty" },
        { "{ \"a\": " + new string('[', 70) + new string(']', 70) + " }", "maximum configured depth of 64" },
        { "[ 1, 2 ]", "Top-level JSON element must be an object" },
        { "\"just a string\"", "Top-level JSON element must be an object" },
    };

    [Theory]
    [MemberData(nameof(Unreadable))]
    public void An_unreadable_file_on_reload_keeps_the_previous_settings_and_logs_a_warning(string content, string problem)
    {
        File.WriteAllText(FilePath, Good);
        var configuration = Build(optional: false);

        File.WriteAllText(FilePath, content);
        configuration.Reload();

        AssertGoodSettings(configuration);
        var warning = Assert.Single(_logs.AtLeast(LogLevel.Warning));
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(FilePath, warning.Message, StringComparison.Ordinal);
        Assert.Contains(problem, warning.Message, StringComparison.Ordinal);
        Assert.Contains("stays in force", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_deleted_file_keeps_the_previous_settings_and_logs_a_warning()
    {
        File.WriteAllText(FilePath, Good);
        var configuration = Build(optional: true);

        File.Delete(FilePath);
        configuration.Reload();

        AssertGoodSettings(configuration);
        var warning = Assert.Single(_logs.AtLeast(LogLevel.Warning));
        Assert.Contains(FilePath, warning.Message, StringComparison.Ordinal);
        Assert.Contains("deleted", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_good_file_after_a_bad_one_applies()
    {
        File.WriteAllText(FilePath, Good);
        var configuration = Build(optional: false);
        File.WriteAllText(FilePath, "{ broken");
        configuration.Reload();

        File.WriteAllText(FilePath, """{ "Federation": { "Downstream": { "uri": "memory://better/%2f" } } }""");
        configuration.Reload();

        Assert.Equal("memory://better/%2f", configuration["Federation:Downstream:uri"]);
        Assert.Null(configuration["Host:Metrics:Meters:0"]);
        Assert.Single(_logs.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public void Empty_object_is_valid_and_replaces_the_settings()
    {
        // {} is a deliberate "no settings": the file layer passes it on; the Federation validation is what refuses it.
        File.WriteAllText(FilePath, Good);
        var configuration = Build(optional: false);

        File.WriteAllText(FilePath, "{}");
        configuration.Reload();

        Assert.Null(configuration["Federation:Downstream:uri"]);
        Assert.Empty(_logs.Records);
    }

    [Theory]
    [MemberData(nameof(Unreadable))]
    public void An_unreadable_file_at_start_is_an_error_naming_the_file_and_the_problem(string content, string problem)
    {
        File.WriteAllText(FilePath, content);

        var error = Assert.Throws<HostConfigurationException>(() => Build(optional: true));

        var line = Assert.Single(error.Problems);
        Assert.Contains(FilePath, line, StringComparison.Ordinal);
        Assert.Contains(problem, line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_required_file_at_start_is_an_error_and_a_missing_optional_one_is_empty_until_created()
    {
        var error = Assert.Throws<HostConfigurationException>(() => Build(optional: false));
        Assert.Contains(FilePath, error.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);

        var configuration = Build(optional: true);
        Assert.Empty(configuration.AsEnumerable());
        configuration.Reload();
        Assert.Empty(_logs.Records);

        File.WriteAllText(FilePath, Good);
        configuration.Reload();
        AssertGoodSettings(configuration);
    }

    [Fact]
    public void Refused_changes_reported_before_a_logger_exists_are_logged_when_it_is_attached()
    {
        var refused = new RefusedFileChanges();
        refused.Report("/etc/fed/appsettings.json", "not valid JSON: oops, LineNumber: 0 | BytePositionInLine: 0.");
        var logs = new CapturedLogs();

        refused.LogTo(logs.CreateLogger("late"));

        var warning = Assert.Single(logs.Records);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal(5003, warning.EventId.Id);
        Assert.Contains("/etc/fed/appsettings.json", warning.Message, StringComparison.Ordinal);
        Assert.Contains("not valid JSON: oops", warning.Message, StringComparison.Ordinal);
        Assert.Contains("BytePositionInLine: 0. The configuration read before stays in force.", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_framework_json_sources_are_replaced_in_place_with_their_settings()
    {
        File.WriteAllText(FilePath, Good);
        var builder = new ConfigurationManager();
        builder.AddInMemoryCollection([new("Federation:Downstream:uri", "memory://earlier/%2f")]);
        builder.AddJsonFile(FilePath, optional: true, reloadOnChange: true);
        builder.AddInMemoryCollection([new("Later", "wins")]);
        var original = builder.Sources.OfType<JsonConfigurationSource>().Single();
        var index = builder.Sources.IndexOf(original);
        var count = builder.Sources.Count;

        LastGoodJsonFiles.Use(builder, _refused);

        var replaced = Assert.IsType<LastGoodJsonConfigurationSource>(builder.Sources[index]);
        Assert.Equal(original.Path, replaced.Path);
        Assert.Equal(original.Optional, replaced.Optional);
        Assert.Equal(original.ReloadOnChange, replaced.ReloadOnChange);
        Assert.Equal(original.ReloadDelay, replaced.ReloadDelay);
        Assert.Same(original.FileProvider, replaced.FileProvider);
        Assert.Equal(count, builder.Sources.Count);
        Assert.Empty(builder.Sources.OfType<JsonConfigurationSource>());
        Assert.Equal("memory://good/%2f", builder["Federation:Downstream:uri"]);
        Assert.Equal("wins", builder["Later"]);
    }

    [Fact]
    public async Task A_watched_file_rewritten_with_invalid_json_raises_no_change_and_logs_a_warning()
    {
        File.WriteAllText(FilePath, Good);
        var configuration = Build(optional: false, reloadOnChange: true);
        var changes = 0;
        using var subscription = Microsoft.Extensions.Primitives.ChangeToken.OnChange(configuration.GetReloadToken, () => Interlocked.Increment(ref changes));

        File.WriteAllText(FilePath, "{ \"Federation\": ");

        await Eventually.UntilAsync(() => Task.FromResult(_logs.AtLeast(LogLevel.Warning).Count()), n => n > 0, "a warning for the invalid file");
        AssertGoodSettings(configuration);
        Assert.Equal(0, Volatile.Read(ref changes));

        File.WriteAllText(FilePath, """{ "Federation": { "Downstream": { "uri": "memory://rewritten/%2f" } } }""");
        // The provider sets the new data before it raises its change: the value can be read a moment before the listeners run.
        await Eventually.UntilAsync(
            () => Task.FromResult((configuration["Federation:Downstream:uri"], Volatile.Read(ref changes))),
            seen => seen.Item1 == "memory://rewritten/%2f" && seen.Item2 > 0,
            "the good file applied and the change raised");
        (configuration as IDisposable)?.Dispose();
    }

    [Fact]
    public void A_notification_that_finds_the_content_already_read_raises_no_change()
    {
        // Editors and file watchers often report one save twice; only the first may reach the listeners.
        File.WriteAllText(FilePath, Good);
        var watch = new ManualWatch(_files);
        var configuration = new ConfigurationBuilder()
            .Add(new LastGoodJsonConfigurationSource(_refused) { Path = "appsettings.json", ReloadOnChange = true, ReloadDelay = 0, FileProvider = watch })
            .Build();
        var changes = 0;
        using var subscription = Microsoft.Extensions.Primitives.ChangeToken.OnChange(configuration.GetReloadToken, () => changes++);

        watch.Fire();
        Assert.Equal(0, changes);

        File.WriteAllText(FilePath, """{ "Federation": { "Downstream": { "uri": "memory://rewritten/%2f" } } }""");
        watch.Fire();
        watch.Fire();
        Assert.Equal(1, changes);
        Assert.Equal("memory://rewritten/%2f", configuration["Federation:Downstream:uri"]);
        (configuration as IDisposable)?.Dispose();
    }

    [Fact]
    public void A_refused_save_notified_twice_is_logged_once()
    {
        // Editors and file watchers often report one save twice (the file truncated, then written): a broken file was
        // logged at each notification, two identical warnings for one save.
        File.WriteAllText(FilePath, Good);
        var watch = new ManualWatch(_files);
        var configuration = new ConfigurationBuilder()
            .Add(new LastGoodJsonConfigurationSource(_refused) { Path = "appsettings.json", ReloadOnChange = true, ReloadDelay = 0, FileProvider = watch })
            .Build();

        File.WriteAllText(FilePath, "{ \"Federation\": ");
        watch.Fire();
        watch.Fire();
        Assert.Single(_logs.AtLeast(LogLevel.Warning));

        // Another problem is another warning; so is the same problem again once a good file came in between.
        File.WriteAllText(FilePath, """{ "a": 1, "A": 2 }""");
        watch.Fire();
        watch.Fire();
        Assert.Equal(2, _logs.AtLeast(LogLevel.Warning).Count());
        File.WriteAllText(FilePath, Good);
        watch.Fire();
        File.WriteAllText(FilePath, "{ \"Federation\": ");
        watch.Fire();
        Assert.Equal(3, _logs.AtLeast(LogLevel.Warning).Count());

        // A deletion notified twice is one warning too.
        File.Delete(FilePath);
        watch.Fire();
        watch.Fire();
        Assert.Equal(4, _logs.AtLeast(LogLevel.Warning).Count());
        AssertGoodSettings(configuration);
        (configuration as IDisposable)?.Dispose();
    }

    /// <summary>The directory's files, with change notifications raised by the test, synchronously.</summary>
    private sealed class ManualWatch(IFileProvider files) : IFileProvider
    {
        private CancellationTokenSource _next = new();

        public IFileInfo GetFileInfo(string subpath) => files.GetFileInfo(subpath);

        public IDirectoryContents GetDirectoryContents(string subpath) => files.GetDirectoryContents(subpath);

        public Microsoft.Extensions.Primitives.IChangeToken Watch(string filter) => new Microsoft.Extensions.Primitives.CancellationChangeToken(_next.Token);

        public void Fire()
        {
            var fired = _next;
            _next = new CancellationTokenSource();
            fired.Cancel();
            fired.Dispose();
        }
    }

    public void Dispose()
    {
        _files.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private IConfigurationRoot Build(bool optional, bool reloadOnChange = false) =>
        new ConfigurationBuilder()
            .Add(new LastGoodJsonConfigurationSource(_refused)
            {
                Path = "appsettings.json",
                Optional = optional,
                ReloadOnChange = reloadOnChange,
                ReloadDelay = 0,
                FileProvider = _files,
            })
            .Build();

    private static void AssertGoodSettings(IConfiguration configuration)
    {
        Assert.Equal("memory://good/%2f", configuration["Federation:Downstream:uri"]);
        Assert.Equal("B", configuration["Host:Metrics:Meters:1"]);
    }
}
