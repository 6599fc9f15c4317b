using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Federation.Amqp;
using RabbitMQ.Client;

namespace Federation.Benchmarks;

/// <summary>
/// What the check of every received content header costs (<c>InboundFrameGuard</c>, which keeps RabbitMQ.Client from
/// reading a header nested deep enough to overflow its stack), against the client's own parse of the same header,
/// which every delivery pays anyway. The bytes are one federated delivery as the broker sends it: basic.deliver, a
/// content header with a one-entry <c>x-received-from</c> trail and two application headers, a 256 B body.
/// </summary>
[MemoryDiagnoser]
public class InboundFrameGuardBenchmarks
{
    private readonly InboundFrameGuard guard = new();
    private byte[] delivery = [];
    private byte[] contentHeaderProperties = [];

    [GlobalSetup]
    public void Setup()
    {
        var properties = new BasicProperties
        {
            MessageId = "order-42",
            ContentType = "application/json",
            DeliveryMode = DeliveryModes.Transient,
            Headers = new Dictionary<string, object?>
            {
                ["x-received-from"] = new List<object?>
                {
                    new Dictionary<string, object?>
                    {
                        ["uri"] = "amqp://upstream:5672/%2F",
                        ["exchange"] = "orders",
                        ["redelivered"] = false,
                        ["cluster-name"] = "upstream",
                        ["vhost"] = "/",
                    },
                },
                ["tenant"] = "acme",
                ["attempt"] = 1,
            },
        };
        IAmqpWriteable writeable = properties;
        contentHeaderProperties = new byte[writeable.GetRequiredBufferSize()];
        contentHeaderProperties = contentHeaderProperties[..writeable.WriteTo(contentHeaderProperties)];

        byte[] method = [0, 60, 0, 60, 12, .. "ctag-1.12345"u8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 6, .. "orders"u8, 0];
        byte[] contentHeader = [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, .. contentHeaderProperties];
        delivery = [.. Frame(1, method), .. Frame(2, contentHeader), .. Frame(3, new byte[256])];
    }

    [Benchmark(Baseline = true, Description = "RabbitMQ.Client parses the content header")]
    public string? ClientParse() => new ReadOnlyBasicProperties(contentHeaderProperties).MessageId;

    [Benchmark(Description = "InboundFrameGuard follows the delivery's three frames")]
    public string? Guard() => guard.Inspect(delivery);

    private static byte[] Frame(byte type, byte[] payload)
    {
        var frame = new byte[7 + payload.Length + 1];
        frame[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(1), 1);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(3), (uint)payload.Length);
        payload.CopyTo(frame, 7);
        frame[^1] = 0xCE;
        return frame;
    }
}
