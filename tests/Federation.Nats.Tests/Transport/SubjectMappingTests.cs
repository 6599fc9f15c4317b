using Federation.Core.Hops;
using Federation.Core.Transport;
using Federation.Nats.Transport;
using NATS.Client.Core;

namespace Federation.Nats.Tests.Transport;

public sealed class SubjectMappingTests
{
    [Theory]
    [InlineData("a.*.c", new[] { "orders.a.*.c" })]
    [InlineData("a.#", new[] { "orders.a.>", "orders.a" })]
    [InlineData("#", new[] { "orders.>", "orders" })]
    [InlineData("a.#.c", new[] { "orders.a.>" })]
    [InlineData("a.#.#", new[] { "orders.a.>", "orders.a" })]
    [InlineData("eu.created", new[] { "orders.eu.created" })]
    [InlineData("", new[] { "orders" })]
    public void Topic_keys_map_to_nats_wildcards(string key, string[] expected) =>
        Assert.Equal(expected, NatsSubjectMapping.SubscribeSubjects("orders", ExchangeSpec.Types.Topic, key));

    [Fact]
    public void Fanout_subscribes_the_whole_namespace_and_direct_the_exact_subject()
    {
        Assert.Equal(["orders", "orders.>"], NatsSubjectMapping.SubscribeSubjects("orders", ExchangeSpec.Types.Fanout, "ignored.#"));
        Assert.Equal(["orders.eu.created"], NatsSubjectMapping.SubscribeSubjects("orders", ExchangeSpec.Types.Direct, "eu.created"));
        Assert.True(NatsSubjectMapping.Routes(ExchangeSpec.Types.Fanout, "x", "anything.at.all"));
        Assert.True(NatsSubjectMapping.Routes(ExchangeSpec.Types.Direct, "eu.created", "eu.created"));
        Assert.False(NatsSubjectMapping.Routes(ExchangeSpec.Types.Direct, "eu.*", "eu.created"));
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData(".a")]
    [InlineData("a.")]
    [InlineData("a b")]
    [InlineData("a.>")]
    [InlineData("a*.b")]
    public void Keys_without_a_nats_form_are_rejected_with_a_clear_error(string key)
    {
        var error = Assert.Throws<ArgumentException>(() => NatsSubjectMapping.SubscribeSubjects("orders", ExchangeSpec.Types.Topic, key));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Publish_subjects_and_routing_keys_round_trip()
    {
        Assert.Equal("orders.eu.created", NatsSubjectMapping.PublishSubject("orders", "eu.created"));
        Assert.Equal("orders", NatsSubjectMapping.PublishSubject("orders", ""));
        Assert.Throws<ArgumentException>(() => NatsSubjectMapping.PublishSubject("orders", "eu.*"));
        Assert.Throws<ArgumentException>(() => NatsSubjectMapping.PublishSubject("", "x"));
        Assert.True(NatsSubjectMapping.TryGetRoutingKey("orders", "orders.eu.created", out var key));
        Assert.Equal("eu.created", key);
        Assert.False(NatsSubjectMapping.TryGetRoutingKey("orders", "ordersx.eu", out _));
        Assert.True(NatsSubjectMapping.TryGetBindingKey("orders", "orders.eu.>", out var binding));
        Assert.Equal("eu.#", binding);
    }

    [Theory]
    [InlineData("a#b")]
    [InlineData("#")]
    [InlineData("eu.*x")]
    [InlineData("a>b.c")]
    public void Routing_keys_whose_words_are_literal_to_NATS_are_published_as_they_are(string key)
    {
        // A NATS publisher may use these subjects, so an upstream delivers them; refusing them would lose the message.
        Assert.Equal("orders." + key, NatsSubjectMapping.PublishSubject("orders", key));
    }

    [Theory]
    [InlineData("eu.*")]
    [InlineData(">")]
    [InlineData("a..b")]
    [InlineData("a b")]
    public void Routing_keys_without_a_NATS_publish_subject_are_refused_naming_the_key(string key)
    {
        var refused = Assert.Throws<ArgumentException>(() => NatsSubjectMapping.PublishSubject("orders", key));
        Assert.Contains(key, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Subjects_overlap_exactly_when_some_subject_matches_both_over_every_small_pattern()
    {
        // Every pattern of up to three tokens over a, b, * (and the same with a trailing >) against every other, checked
        // against the definition: a subject of up to four tokens over a, b, c that both match (c stands for any other token).
        string[] tokens = ["a", "b", "*"];
        string[] literals = ["a", "b", "c"];
        var patterns = new List<string>();
        var bodies = new List<string> { string.Empty };
        for (var length = 1; length <= 3; length++)
        {
            bodies = [.. bodies.SelectMany(body => tokens.Select(token => body.Length == 0 ? token : body + "." + token))];
            patterns.AddRange(bodies);
            patterns.AddRange(bodies.Where(body => body.Count(c => c == '.') < 2).Select(body => body + ".>"));
        }

        patterns.Add(">");
        var subjects = new List<string>();
        var level = new List<string> { string.Empty };
        for (var length = 1; length <= 4; length++)
        {
            level = [.. level.SelectMany(body => literals.Select(token => body.Length == 0 ? token : body + "." + token))];
            subjects.AddRange(level);
        }

        foreach (var left in patterns)
        {
            foreach (var right in patterns)
            {
                var expected = subjects.Any(subject => NatsSubjectMapping.SubjectMatches(left, subject) && NatsSubjectMapping.SubjectMatches(right, subject));
                Assert.True(expected == NatsSubjectMapping.SubjectsOverlap(left, right), $"{left} and {right}: overlap should be {expected}");
            }
        }
    }

    [Theory]
    [InlineData("a.b", "a.b", true)]
    [InlineData("a.b", "a.c", false)]
    [InlineData("a.*", "a.b", true)]
    [InlineData("a.*", "*.b", true)]
    [InlineData("a.*", "a.b.c", false)]
    [InlineData("a.>", "a", false)]
    [InlineData("a.>", "a.b.c", true)]
    [InlineData("a.>", "*.*", true)]
    [InlineData(">", "x", true)]
    [InlineData("a.b.>", "a.*", false)]
    [InlineData("a.b.>", "a.*.c", true)]
    [InlineData("orders", "orders.>", false)]
    public void Subjects_overlap_when_one_subject_matches_both(string a, string b, bool overlap)
    {
        Assert.Equal(overlap, NatsSubjectMapping.SubjectsOverlap(a, b));
        Assert.Equal(overlap, NatsSubjectMapping.SubjectsOverlap(b, a));
    }

    [Theory]
    [InlineData("a.#.c", "a.c", true)]
    [InlineData("a.#.c", "a.x.y.c", true)]
    [InlineData("a.#.c", "a.x.y", false)]
    [InlineData("a.*", "a.b.c", false)]
    [InlineData("#", "", true)]
    public void Client_side_filter_uses_amqp_topic_semantics(string pattern, string key, bool expected) =>
        Assert.Equal(expected, NatsSubjectMapping.TopicMatches(pattern, key));

    [Theory]
    [InlineData("orders.*", "orders.a", true)]
    [InlineData("orders.>", "orders", false)]
    [InlineData("orders.>", "orders.a.b", true)]
    [InlineData("orders.a", "orders.a.b", false)]
    public void Nats_subject_matching(string filter, string subject, bool expected) =>
        Assert.Equal(expected, NatsSubjectMapping.SubjectMatches(filter, subject));

    [Fact]
    public void Trail_header_round_trips_into_what_HopRules_reads()
    {
        var properties = new MessageProperties { ContentType = "application/json", MessageId = "m1", Persistent = true, Headers = new() { ["tenant"] = "acme", ["count"] = 3 } };
        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, new ReceivedFromEntry("nats://a:4222", "orders", false, "A", "/"));
        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, new ReceivedFromEntry("nats://b:4222?x=y;z", "orders", true, "B", "/"));

        var headers = NatsMessageMapping.ToNatsHeaders(properties)!;
        Assert.True(headers.TryGetValue("X-Received-From", out var hops));
        Assert.Equal(2, hops.Count);
        Assert.StartsWith("uri=nats%3A%2F%2Fb%3A4222%3Fx%3Dy%3Bz;exchange=orders;redelivered=true;cluster-name=B;vhost=%2F", hops[0], StringComparison.Ordinal);

        var back = NatsMessageMapping.ToProperties(headers);
        var trail = HopRules.ReadReceivedFrom(back.Headers);
        Assert.Equal(
            [new ReceivedFromEntry("nats://b:4222?x=y;z", "orders", true, "B", "/"), new ReceivedFromEntry("nats://a:4222", "orders", false, "A", "/")],
            trail);
        Assert.Equal("application/json", back.ContentType);
        Assert.Equal("m1", back.MessageId);
        Assert.True(back.Persistent);
        Assert.Equal("acme", back.Headers!["tenant"]);
        Assert.Equal("3", back.Headers["count"]); // non-string values come back as text (documented loss)
        Assert.Equal(ForwardVerdict.Cycle, HopRules.Check(back.Headers, 5, "A", "/"));
    }

    [Fact]
    public void Headers_nats_cannot_carry_are_dropped()
    {
        var headers = NatsMessageMapping.ToNatsHeaders(new MessageProperties { Headers = new() { ["bad key"] = "x", ["list"] = new List<object?> { 1 } } });
        Assert.Null(headers);
        Assert.Null(NatsMessageMapping.ToProperties(new NatsHeaders()).Headers);
    }

    [Fact]
    public void A_reused_header_object_gets_the_headers_ToNatsHeaders_builds_and_nothing_of_the_previous_message()
    {
        var properties = new MessageProperties { ContentType = "application/json", Priority = 4, Persistent = true, Headers = new() { ["tenant"] = "acmé", ["bad key"] = "x", ["amqp-type"] = "a header", ["amqp-priority"] = "the property wins" } };
        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, new ReceivedFromEntry("nats://a:4222", "orders", false, "A", "/"));
        properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, new ReceivedFromEntry("nats://b:4222", "orders", true, "B", "/"));
        var reused = new NatsHeaders { ["left-over"] = "from the previous message" };
        reused.Clear(); // what the publisher does before each message

        NatsMessageMapping.WriteHeaders(properties, reused);

        var expected = NatsMessageMapping.ToNatsHeaders(properties)!;
        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value.ToString())), reused.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value.ToString())));
        Assert.Equal(6, reused.Count); // amqp-content-type, amqp-priority, amqp-persistent, amqp-type, tenant, x-received-from
        Assert.Equal("4", Assert.Single(reused["amqp-priority"]));
        Assert.True(reused.TryGetValue("x-received-from", out var hops));
        Assert.Equal(2, hops.Count);
    }

    [Fact]
    public void A_reused_header_object_stays_empty_without_headers()
    {
        var reused = new NatsHeaders();
        NatsMessageMapping.WriteHeaders(new MessageProperties { Headers = new() { ["bad key"] = "x" } }, reused);
        Assert.Empty(reused);
    }

    [Fact]
    public void Repeated_hop_encodings_follow_every_field_change()
    {
        // The same hop twice (reused text), then each field changed in turn, then a redelivered flag, then the first again.
        var entries = new[]
        {
            new ReceivedFromEntry("nats://a:4222", "orders", false, "A", "/"),
            new ReceivedFromEntry("nats://a:4222", "orders", false, "A", "/"),
            new ReceivedFromEntry("nats://b:4222", "orders", false, "A", "/"),
            new ReceivedFromEntry("nats://b:4222", "invoices", false, "A", "/"),
            new ReceivedFromEntry("nats://b:4222", "invoices", true, "A", "/"),
            new ReceivedFromEntry("nats://b:4222", "invoices", true, null, "/"),
            new ReceivedFromEntry("nats://b:4222", "invoices", true, null, "v"),
            new ReceivedFromEntry("nats://a:4222", "orders", false, "A", "/"),
        };
        foreach (var entry in entries)
        {
            var properties = new MessageProperties();
            properties.Headers = HopRules.PrependReceivedFrom(properties.Headers, entry);
            var back = NatsMessageMapping.ToProperties(NatsMessageMapping.ToNatsHeaders(properties));
            Assert.Equal([entry], HopRules.ReadReceivedFrom(back.Headers));
        }
    }
}
