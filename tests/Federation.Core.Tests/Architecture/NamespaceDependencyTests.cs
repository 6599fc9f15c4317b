using System.Reflection;
using System.Reflection.Emit;

namespace Federation.Core.Tests.Architecture;

/// <summary>
/// The arrows between Core's namespaces point one way (README, "Which way the arrows point"). Each rule reads every type of
/// a namespace, its signatures and the IL of its methods, and lists what it references in namespaces it must not use.
/// </summary>
public sealed class NamespaceDependencyTests
{
    private const string Core = "Federation.Core";

    public static TheoryData<string, string[]> Rules() => new()
    {
        // Leaves: nothing else in the library.
        { "Federation.Core.Hops", [] },
        { "Federation.Core.Addressing", [] },
        { "Federation.Core.Transport", [] },
        // Telemetry is told counts and values; it knows no link.
        { "Federation.Core.Diagnostics", ["Federation.Core.Transport"] },
        { "Federation.Core.Topology", ["Federation.Core.Transport"] },
        // The configuration model validates URIs against the transports (TransportResolver lives with them); it knows no link.
        { "Federation.Core.Model", ["Federation.Core.Transport"] },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void A_namespace_uses_only_what_it_may(string space, string[] allowed)
    {
        var offending = ReferencedTypes(space)
            .Where(t => IsCore(t.Namespace) && !Within(t.Namespace, space) && !allowed.Any(a => Within(t.Namespace, a)))
            .Select(t => t.FullName ?? t.Name)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(offending.Count == 0, $"{space} references {string.Join(", ", offending)}");
    }

    [Fact]
    public void Links_depends_on_nothing_above_it()
    {
        var offending = ReferencedTypes("Federation.Core.Links")
            .Where(t => t.Namespace is Core || Within(t.Namespace, "Federation.Core.Hosting") || Within(t.Namespace, "Federation.Core.Collectives"))
            .Select(t => t.FullName ?? t.Name)
            .Distinct(StringComparer.Ordinal)
            .ToList();

        Assert.True(offending.Count == 0, $"Federation.Core.Links references {string.Join(", ", offending)}");
    }

    [Fact]
    public void The_check_sees_references_in_method_bodies()
    {
        // Guards the IL reading below: Links uses the hop rules only inside method bodies.
        Assert.Contains(ReferencedTypes("Federation.Core.Links"), t => t.Namespace == "Federation.Core.Hops");
    }

    private static bool IsCore(string? space) => space is not null && Within(space, Core) && !Within(space, Core + ".Tests");

    private static bool Within(string? space, string root) =>
        space is not null && (space == root || space.StartsWith(root + ".", StringComparison.Ordinal));

    private static HashSet<Type> ReferencedTypes(string space)
    {
        var found = new HashSet<Type>();
        foreach (var type in typeof(FederationEngine).Assembly.GetTypes().Where(t => Within(t.Namespace, space)))
        {
            Add(found, type.BaseType);
            foreach (var contract in type.GetInterfaces())
            {
                Add(found, contract);
            }

            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var field in type.GetFields(all))
            {
                Add(found, field.FieldType);
            }

            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                if (method is MethodInfo info)
                {
                    Add(found, info.ReturnType);
                }

                foreach (var parameter in method.GetParameters())
                {
                    Add(found, parameter.ParameterType);
                }

                AddBodyReferences(found, method);
            }
        }

        return found;
    }

    private static void Add(HashSet<Type> found, Type? type)
    {
        if (type is null || type.IsGenericParameter)
        {
            return;
        }

        if (type.HasElementType)
        {
            Add(found, type.GetElementType());
            return;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                Add(found, argument);
            }

            type = type.GetGenericTypeDefinition();
        }

        found.Add(type);
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    // Walks the IL and resolves every type, method and field token to the type it names or belongs to.
    private static void AddBodyReferences(HashSet<Type> found, MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
        {
            return;
        }

        var typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var position = 0;
        while (position < il.Length)
        {
            short value = il[position++];
            if (value == 0xFE)
            {
                value = (short)(0xFE00 | il[position++]);
            }

            var opCode = OpCodesByValue[value];
            switch (opCode.OperandType)
            {
                case OperandType.InlineType or OperandType.InlineTok or OperandType.InlineMethod or OperandType.InlineField:
                    var member = method.Module.ResolveMember(BitConverter.ToInt32(il, position), typeArguments, methodArguments);
                    switch (member)
                    {
                        case Type type:
                            Add(found, type);
                            break;
                        case FieldInfo field:
                            Add(found, field.DeclaringType);
                            Add(found, field.FieldType);
                            break;
                        case MethodBase called:
                            Add(found, called.DeclaringType);
                            break;
                    }

                    position += 4;
                    break;
                case OperandType.InlineSwitch:
                    position += 4 + (4 * BitConverter.ToInt32(il, position));
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    position += 8;
                    break;
                case OperandType.InlineBrTarget or OperandType.InlineI or OperandType.InlineSig or OperandType.InlineString or OperandType.ShortInlineR:
                    position += 4;
                    break;
                case OperandType.InlineVar:
                    position += 2;
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    position += 1;
                    break;
            }
        }
    }
}
