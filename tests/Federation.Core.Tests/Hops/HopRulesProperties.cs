using System.Collections.ObjectModel;
using System.Text;
using Federation.Core.Hops;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using static Federation.Core.Tests.Hops.Trails;
using Xunit;

namespace Federation.Core.Tests.Hops;

public class HopRulesProperties
{
    // Each property runs this many generated cases.
    private const int Runs = 500;

    private static readonly string[] Clusters = ["a", "b", "c", "d", "zürich 😀"];

    private static readonly string[] VirtualHosts = ["/", "v1", "v2"];

    private static readonly (string Cluster, string Vhost)[] AllOrigins =
        [.. Clusters.SelectMany(cluster => VirtualHosts.Select(vhost => (cluster, vhost)))];

    // A small pool, so that generated trails and chains revisit (cluster, vhost) pairs often.
    private static readonly Gen<(string Cluster, string Vhost)> Origin = Gen.Elements(AllOrigins);

    private static readonly Gen<string> Text =
        Gen.Elements("a", "/", ":", " ", "ü", "😀", "%2F").ListOf().Select(string.Concat);

    private static readonly Gen<ReceivedFromEntry> Entry =
        from uri in Text
        from exchange in Text
        from redelivered in Gen.Elements(true, false)
        from cluster in Gen.OneOf(Text, Gen.Constant<string>(null!))
        from vhost in Text
        select new ReceivedFromEntry(uri, exchange, redelivered, cluster, vhost);

    [Property(MaxTest = Runs)]
    public Property After_k_hops_a_message_crosses_a_link_iff_k_is_below_its_max_hops()
    {
        var cases =
            from k in Gen.Choose(0, 8)
            from maxHops in Gen.Choose(1, 10)
            from shuffled in Gen.Shuffle(AllOrigins)
            select (Left: shuffled[..k], MaxHops: maxHops, Next: shuffled[k]);

        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var headers = MessageThatLeft([.. c.Left.Select(origin => Hop(origin.Cluster, origin.Vhost))]).Headers;
            var expected = c.Left.Length < c.MaxHops ? ForwardVerdict.Forward : ForwardVerdict.MaxHopsExceeded;
            return HopRules.Check(headers, c.MaxHops, c.Next.Cluster, c.Next.Vhost) == expected;
        });
    }

    [Property(MaxTest = Runs)]
    public Property A_message_never_reenters_a_cluster_and_vhost_it_has_left_whatever_the_representation()
    {
        var cases =
            from left in Origin.NonEmptyListOf()
            from index in Gen.Choose(0, left.Count - 1)
            from spareHops in Gen.Choose(1, 5)
            from foreign in Gen.Elements(true, false)
            select (Left: left, Revisited: left[index], MaxHops: left.Count + spareHops, Foreign: foreign);

        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var headers = MessageThatLeft([.. c.Left.Select(origin => Hop(origin.Cluster, origin.Vhost))]).Headers!;
            if (c.Foreign)
            {
                headers = Headers(AsAnotherAdapterWouldHandItIn(headers[HopHeaders.ReceivedFrom]!));
            }

            return HopRules.Check(headers, c.MaxHops, c.Revisited.Cluster, c.Revisited.Vhost) == ForwardVerdict.Cycle;
        });
    }

    [Property(MaxTest = Runs)]
    public Property Prepended_entries_read_back_newest_first()
    {
        return Prop.ForAll(Entry.ListOf().ToArbitrary(), entries =>
        {
            var properties = MessageThatLeft([.. entries]);
            return HopRules.ReadReceivedFrom(properties.Headers).SequenceEqual(Enumerable.Reverse(entries));
        });
    }

    [Property(MaxTest = Runs)]
    public Property Binding_hops_shrink_along_any_chain_stay_within_every_max_hops_and_stop_at_a_revisit()
    {
        var chains =
            from start in Origin
            from steps in Gen.Zip(Origin, Gen.Choose(1, 6)).ListOf()
            select (Start: start, Steps: steps);

        return Prop.ForAll(chains.ToArbitrary(), chain =>
        {
            IReadOnlyDictionary<string, object?>? arguments = null;
            var holder = chain.Start;
            var trail = new List<(string Cluster, string Vhost)>();
            var previousHops = int.MaxValue;
            var smallestMaxHops = int.MaxValue;
            foreach (var (upstream, maxHops) in chain.Steps)
            {
                if (upstream == holder)
                {
                    continue; // not a link
                }

                smallestMaxHops = Math.Min(smallestMaxHops, maxHops);
                var hops = HopRules.BindingHops(arguments, maxHops, upstream.Cluster, upstream.Vhost);
                if (hops > previousHops || hops > smallestMaxHops || hops < 0 || (trail.Contains(upstream) && hops != 0))
                {
                    return false;
                }

                if (hops == 0)
                {
                    return true;
                }

                arguments = HopRules.WithBoundFrom(arguments, holder.Cluster, holder.Vhost, $"{holder.Vhost}:x A", hops);
                trail.Add(holder);
                previousHops = hops;
                holder = upstream;
            }

            return true;
        });
    }

    // RabbitMQ.Client-style: text as UTF-8 bytes, read-only collection types instead of List and Dictionary.
    private static ReadOnlyCollection<object?> AsAnotherAdapterWouldHandItIn(object trail) =>
        new([.. ((List<object?>)trail).Select(entry => (object?)new ReadOnlyDictionary<string, object?>(
            ((Dictionary<string, object?>)entry!).ToDictionary(
                field => field.Key,
                field => field.Value is string text ? Encoding.UTF8.GetBytes(text) : field.Value)))]);
}
