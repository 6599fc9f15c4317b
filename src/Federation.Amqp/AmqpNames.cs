using System.Text;
using Federation.Core.Transport;

namespace Federation.Amqp;

/// <summary>
/// AMQP's limit on names: exchange and queue names, binding keys and consumer queues travel as short strings, at most 255
/// bytes of UTF-8. RabbitMQ.Client finds a longer one only while writing the frame, and throws an
/// <see cref="ArgumentException"/> about an output buffer that names neither the name nor the limit; checked here first,
/// the caller gets a <see cref="NameTooLongException"/> that says which name and why.
/// </summary>
internal static class AmqpNames
{
    /// <summary>The most bytes of UTF-8 an AMQP short string holds.</summary>
    public const int MaxBytes = 255;

    /// <summary>Throws <see cref="NameTooLongException"/> when <paramref name="name"/> is over <see cref="MaxBytes"/>.</summary>
    /// <param name="name">The name to send.</param>
    /// <param name="what">What it names, for the message: "queue", "exchange", "binding key".</param>
    public static void Check(string name, string what)
    {
        // Every character takes at least one byte, and at most three per UTF-16 unit: most names need no count.
        if (name.Length <= MaxBytes / 3)
        {
            return;
        }

        var bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > MaxBytes)
        {
            throw new NameTooLongException(
                $"The {what} name '{name}' is {bytes} bytes of UTF-8, over AMQP's limit of {MaxBytes} bytes for a name, so it cannot be sent to the broker.",
                name,
                MaxBytes);
        }
    }
}
