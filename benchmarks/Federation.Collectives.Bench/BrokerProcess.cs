using System.Diagnostics;
using System.Globalization;
using Federation.Core.Collectives;
using Federation.Nats.Messaging;

namespace Federation.Collectives.Bench;

/// <summary>
/// A federation broker instance in a process of its own (this executable with <c>broker ...</c>), so that its CPU time is
/// measured apart from the clients'. It prints <c>ready</c> once subscribed and stops when its standard input closes.
/// </summary>
internal sealed class BrokerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private BrokerProcess(Process process, string cluster)
    {
        _process = process;
        Cluster = cluster;
    }

    public string Cluster { get; }

    public int Pid => _process.Id;

    /// <summary>Starts a broker process and waits until it is subscribed.</summary>
    public static async Task<BrokerProcess> StartAsync(string cluster, string instance, string federationUrl, string collectiveUrl, int workers)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(BrokerProcess).Assembly.Location);
        }

        foreach (var arg in new[] { "broker", cluster, instance, federationUrl, collectiveUrl, workers.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        // BENCH_BROKER_ENV="NAME=VALUE ..." sets runtime knobs for the broker processes only (an experiment aid).
        foreach (var pair in (Environment.GetEnvironmentVariable("BENCH_BROKER_ENV") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ArgumentException($"BENCH_BROKER_ENV: '{pair}' is not NAME=VALUE");
            }

            start.Environment[pair[..eq]] = pair[(eq + 1)..];
        }

        var process = Process.Start(start)!;
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(120));
        if (line != "ready")
        {
            process.Kill();
            throw new InvalidOperationException($"broker {cluster}/{instance} did not start: {line}");
        }

        return new BrokerProcess(process, cluster);
    }

    /// <summary>The body of the child: runs one broker until standard input closes, then prints its statistics.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var (cluster, instance, federationUrl, collectiveUrl) = (args[1], args[2], args[3], args[4]);
        var workers = int.Parse(args[5], CultureInfo.InvariantCulture);
        await using var broker = new FederationBroker(
            new FederationBrokerOptions { ClusterName = cluster, FederationUri = federationUrl, CollectiveUri = collectiveUrl, InstanceName = instance, Workers = workers },
            [new NatsSubjectTransport()]);
        await broker.StartAsync(CancellationToken.None);
        Console.WriteLine("ready");
        await Console.In.ReadToEndAsync();
        Console.WriteLine(broker.Statistics.RequestsReceived.ToString(CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>Closes the child's standard input and returns the requests it handled.</summary>
    public async Task<string> StopAsync()
    {
        _process.StandardInput.Close();
        var handled = await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return handled ?? "?";
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
