using Federation.Testing.Brokers;

namespace FederationHost.Tests;

/// <summary>
/// <c>examples/FederationHost/scripts/local-rabbitmq-node.sh</c> run against stand-ins for <c>rabbitmq-server</c> and
/// <c>rabbitmqctl</c> (through <c>RABBITMQ_BIN_DIR</c>), so that the order in which it starts them can be checked without
/// a broker.
/// </summary>
public sealed class LocalRabbitMqNodeScriptTests
{
    /// <summary>
    /// The node and the script's first <c>rabbitmqctl</c> run at the same time with the same HOME, and each creates
    /// <c>$HOME/.erlang.cookie</c> with a random cookie when it is missing. On a loaded machine the CLI's file replaced the
    /// node's after the node had read its own: no rabbitmqctl could ever authenticate ("Invalid challenge reply" in the
    /// node's log) and the script reported a running node as not started. The cookie must exist before the node starts.
    /// </summary>
    [Fact]
    public async Task The_node_finds_the_cookie_that_rabbitmqctl_uses_when_it_starts()
    {
        using var bin = new TemporaryDirectory("federation-node-script-");
        // The stand-in node records the cookie it finds at start; the stand-in CLI creates one when there is none, as
        // the real CLI does, and answers every command with success.
        await File.WriteAllTextAsync(bin.File("rabbitmq-server"), """
            #!/usr/bin/env bash
            if [ -s "$HOME/.erlang.cookie" ]; then cp "$HOME/.erlang.cookie" "$HOME/cookie-seen-by-node"; fi
            echo $$ > "$RABBITMQ_PID_FILE"
            """.Replace("\r\n", "\n", StringComparison.Ordinal));
        await File.WriteAllTextAsync(bin.File("rabbitmqctl"), """
            #!/usr/bin/env bash
            if [ ! -s "$HOME/.erlang.cookie" ]; then echo "CLI$RANDOM$RANDOM" > "$HOME/.erlang.cookie"; fi
            exit 0
            """.Replace("\r\n", "\n", StringComparison.Ordinal));
        var chmod = await ProcessRunner.RunAsync("chmod", ["u+x", bin.File("rabbitmq-server"), bin.File("rabbitmqctl")], new Dictionary<string, string>(), TimeSpan.FromSeconds(30));
        Assert.True(chmod.ExitCode == 0, chmod.Output);

        var name = $"scripttest{Environment.ProcessId}x{Guid.NewGuid():N}"[..32];
        var nodeDirectory = $"/tmp/rabbitmq-{name}";
        try
        {
            var script = Path.Combine(RepositoryRoot(), "examples", "FederationHost", "scripts", "local-rabbitmq-node.sh");
            var run = await ProcessRunner.RunAsync("bash", [script, "start", name, "1", "2", "3"],
                new Dictionary<string, string> { ["RABBITMQ_BIN_DIR"] = bin.Path }, TimeSpan.FromSeconds(60));

            Assert.True(run.ExitCode == 0, run.Output);
            var seenByNode = Path.Combine(nodeDirectory, "cookie-seen-by-node");
            Assert.True(File.Exists(seenByNode), "rabbitmq-server started before the node's .erlang.cookie existed");
            Assert.Equal(await File.ReadAllTextAsync(Path.Combine(nodeDirectory, ".erlang.cookie")), await File.ReadAllTextAsync(seenByNode));
        }
        finally
        {
            if (Directory.Exists(nodeDirectory))
            {
                foreach (var file in Directory.EnumerateFiles(nodeDirectory, "*", SearchOption.AllDirectories))
                {
                    File.SetAttributes(file, FileAttributes.Normal);
                }

                Directory.Delete(nodeDirectory, recursive: true);
            }
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Federation.Core.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Federation.Core.sln above {AppContext.BaseDirectory}.");
    }
}
