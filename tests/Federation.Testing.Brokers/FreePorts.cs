using System.Net;
using System.Net.Sockets;

namespace Federation.Testing.Brokers;

/// <summary>Finds free TCP ports on 127.0.0.1 for broker processes.</summary>
public static class FreePorts
{
    private static readonly HashSet<int> Handed = [];

    /// <summary>Returns a port that was free a moment ago and that this process has not handed out before.</summary>
    public static int Next()
    {
        while (true)
        {
            // Binding to port 0 lets the OS pick; we release it straight away for the broker to take.
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            lock (Handed)
            {
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
