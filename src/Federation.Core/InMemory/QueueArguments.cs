using System.Globalization;
using Federation.Core.Transport;

namespace Federation.Core.InMemory;

/// <summary>The queue declaration arguments the broker acts on, validated as RabbitMQ validates them.</summary>
internal readonly record struct QueueArguments(TimeSpan? Expires, TimeSpan? MessageTtl)
{
    private const string ExpiresArgument = "x-expires";
    private const string MessageTtlArgument = "x-message-ttl";
    private const string QueueTypeArgument = "x-queue-type";

    /// <exception cref="PreconditionFailedException">An argument has an invalid value.</exception>
    public static QueueArguments Parse(QueueSpec queue)
    {
        var arguments = queue.Arguments;
        if (arguments is null)
        {
            return default;
        }

        if (arguments.TryGetValue(QueueTypeArgument, out var type) && type is not ("classic" or "quorum"))
        {
            throw new PreconditionFailedException($"PRECONDITION_FAILED - invalid arg '{QueueTypeArgument}' for queue '{queue.Name}': '{type}' is not classic or quorum.");
        }

        return new QueueArguments(
            Milliseconds(queue, ExpiresArgument, minimum: 1),
            Milliseconds(queue, MessageTtlArgument, minimum: 0));
    }

    private static TimeSpan? Milliseconds(QueueSpec queue, string name, long minimum)
    {
        if (!queue.Arguments!.TryGetValue(name, out var value))
        {
            return null;
        }

        if (value is not (sbyte or byte or short or ushort or int or uint or long)
            || Convert.ToInt64(value, CultureInfo.InvariantCulture) is var milliseconds && milliseconds < minimum)
        {
            throw new PreconditionFailedException($"PRECONDITION_FAILED - invalid arg '{name}' for queue '{queue.Name}': '{value}' is not an integer >= {minimum}.");
        }

        return TimeSpan.FromMilliseconds(milliseconds);
    }
}
