namespace FederationHost.Tests.BadInput;

/// <summary>
/// Every row of <see cref="FileReloadCases"/> against the host running in-process on a real appsettings.json in its
/// content root (the host's own file loading and reloadOnChange): refused, logged naming the file, links and upstream
/// queues kept, and a good file written afterwards still applies.
/// </summary>
public sealed class FileReloadBadInputTests
{
    [Theory]
    [MemberData(nameof(FileReloadCases.Names), MemberType = typeof(FileReloadCases))]
    public async Task An_unreadable_settings_file_is_refused_and_the_running_configuration_kept(string row)
    {
        var @case = FileReloadCases.All[row];
        using var directory = new TemporaryDirectory();
        await File.WriteAllTextAsync(directory.File("appsettings.json"), FileReloadCases.Good.Text);
        await using var host = await RunningHost.StartInContentRootAsync(directory.Path);
        var before = await ReloadBadInputTests.RunningLinkAsync(host);

        var environment = host.App.Environment.EnvironmentName;
        await @case.Damage(new FileReloadCase.Target(host, directory, environment));

        await BadReloadAssertions.RefusedAsync(host, before, ReloadCases.RemoteBroker, @case.ExpectAnyOf, [ReloadCases.Secret]);
        await BadReloadAssertions.GoodReloadStillAppliesAsync(
            host,
            before,
            ReloadCases.RemoteBroker,
            () => FileReloadCases.WriteAtomicallyAsync(directory.File("appsettings.json"), FileReloadCases.WithSecondUpstream.Text));
    }

    [Fact]
    public async Task A_good_rewrite_of_the_settings_file_adds_a_link_and_leaves_the_running_one_untouched()
    {
        // The control for the table: the file watcher sees an atomic rewrite, and the good file used after each bad one applies.
        using var directory = new TemporaryDirectory();
        await File.WriteAllTextAsync(directory.File("appsettings.json"), FileReloadCases.Good.Text);
        await using var host = await RunningHost.StartInContentRootAsync(directory.Path);
        var before = await ReloadBadInputTests.RunningLinkAsync(host);
        await BadReloadAssertions.GoodReloadStillAppliesAsync(
            host,
            before,
            ReloadCases.RemoteBroker,
            () => FileReloadCases.WriteAtomicallyAsync(directory.File("appsettings.json"), FileReloadCases.WithSecondUpstream.Text));
    }
}
