using Federation.Core.Transport;
using Federation.Nats.Transport;

namespace Federation.Nats.Tests.Transport;

/// <summary>The NATS transport's emulated exchange: which subjects a binding subscribes to, and which subscriptions can go.</summary>
public sealed class NatsEmulatedExchangeTests
{
    [Fact]
    public void An_internal_exchange_subscribes_to_nothing_and_another_to_its_binding_subjects()
    {
        var binding = new BindingSpec("x", "q", BindingDestinationKind.Queue, "a.b");

        Assert.Empty(new NatsEmulatedExchange(new ExchangeSpec("x", ExchangeSpec.Types.Topic, Internal: true)).SubjectsFor(binding));
        Assert.Equal(
            NatsSubjectMapping.SubscribeSubjects("x", ExchangeSpec.Types.Topic, "a.b"),
            new NatsEmulatedExchange(new ExchangeSpec("x", ExchangeSpec.Types.Topic)).SubjectsFor(binding));
    }

    [Fact]
    public void An_unneeded_subscription_stays_while_a_newer_one_overlaps_it_and_goes_with_it()
    {
        var exchange = new NatsEmulatedExchange(new ExchangeSpec("x", ExchangeSpec.Types.Topic));
        var older = Add(exchange, 1, "x.a.*");
        var newer = Add(exchange, 2, "x.a.b");
        var apart = Add(exchange, 3, "x.c");

        // The older one routes what both receive: dropping it while the newer one stays could lose a message.
        older.References = 0;
        apart.References = 0;
        Assert.Equal([apart], exchange.TakeUnneededSubscriptions());
        Assert.Equal(["x.a.*", "x.a.b"], exchange.Subscriptions.Keys.Order(StringComparer.Ordinal));

        newer.References = 0;
        Assert.Equal([newer, older], exchange.TakeUnneededSubscriptions());
        Assert.Empty(exchange.Subscriptions);
    }

    private static NatsExchangeSubscription Add(NatsEmulatedExchange exchange, long id, string subject)
    {
        var subscription = new NatsExchangeSubscription(id, subject);
        exchange.Subscriptions[subject] = subscription;
        return subscription;
    }
}
