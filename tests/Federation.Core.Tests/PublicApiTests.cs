using System.Reflection;
using System.Text;

namespace Federation.Core.Tests;

/// <summary>
/// Guards the public API: the signatures of every public type and member are compared with the checked-in
/// <c>api/Federation.Core.approved.txt</c>. PublicApiAnalyzers is not obtainable here, so this reflection test stands in.
/// To accept an intended change, run the tests with <c>UPDATE_API_BASELINE=1</c> and commit the new file.
/// </summary>
public sealed class PublicApiTests
{
    [Fact]
    public void The_public_api_matches_the_approved_baseline()
    {
        var actual = Describe(typeof(FederationEngine).Assembly);
        var path = Path.Combine(Support.RepositoryPaths.Root(), "api", "Federation.Core.approved.txt");
        if (Environment.GetEnvironmentVariable("UPDATE_API_BASELINE") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
        }

        var approved = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n") : "";
        var added = actual.Split('\n').Except(approved.Split('\n')).ToList();
        var removed = approved.Split('\n').Except(actual.Split('\n')).ToList();
        Assert.True(added.Count == 0 && removed.Count == 0,
            $"The public API changed. Added:\n  {string.Join("\n  ", added)}\nRemoved:\n  {string.Join("\n  ", removed)}\n" +
            "If intended, run the tests with UPDATE_API_BASELINE=1 and commit api/Federation.Core.approved.txt.");
    }

    private static string Describe(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            lines.Add($"{Kind(type)} {Name(type)}{Bases(type)}");
            const BindingFlags Flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(Flags))
            {
                var text = Member(member);
                if (text is not null)
                {
                    lines.Add($"{Name(type)}::{text}");
                }
            }
        }

        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines) + "\n";
    }

    private static string Kind(Type type) =>
        type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct" : typeof(Delegate).IsAssignableFrom(type) ? "delegate" : type.IsAbstract && type.IsSealed ? "static class" : "class";

    private static string Bases(Type type)
    {
        var bases = new List<string>();
        if (type.BaseType is { } baseType && baseType != typeof(object) && baseType != typeof(ValueType) && baseType != typeof(Enum) && baseType != typeof(MulticastDelegate))
        {
            bases.Add(Name(baseType));
        }

        bases.AddRange(type.GetInterfaces().Where(i => i.IsPublic).Select(Name).Order(StringComparer.Ordinal));
        return bases.Count == 0 ? "" : " : " + string.Join(", ", bases);
    }

    private static string? Member(MemberInfo member) => member switch
    {
        ConstructorInfo c => $"ctor({Parameters(c)})",
        MethodInfo m when !m.IsSpecialName && m.DeclaringType?.IsEnum != true => $"{(m.IsStatic ? "static " : "")}{Name(m.ReturnType)} {m.Name}{Generic(m)}({Parameters(m)})",
        PropertyInfo p => $"{(p.GetMethod?.IsStatic == true ? "static " : "")}{Name(p.PropertyType)} {p.Name} {{{(p.GetMethod?.IsPublic == true ? " get;" : "")}{(p.SetMethod?.IsPublic == true ? " set;" : "")} }}",
        FieldInfo f when f.DeclaringType?.IsEnum == true && f.IsStatic => $"{f.Name} = {f.GetRawConstantValue()}",
        FieldInfo f => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{Name(f.FieldType)} {f.Name}",
        EventInfo e => $"event {Name(e.EventHandlerType!)} {e.Name}",
        _ => null,
    };

    private static string Generic(MethodInfo method) =>
        method.IsGenericMethod ? "<" + string.Join(", ", method.GetGenericArguments().Select(a => a.Name)) + ">" : "";

    private static string Parameters(MethodBase method) =>
        string.Join(", ", method.GetParameters().Select(p => $"{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")}"));

    private static string Name(Type type)
    {
        if (type.IsGenericParameter)
        {
            return type.Name;
        }

        if (type.IsArray)
        {
            return Name(type.GetElementType()!) + "[]";
        }

        if (type.IsByRef)
        {
            return Name(type.GetElementType()!) + "&";
        }

        var name = type.FullName is { } full && !type.IsGenericType ? full : $"{type.Namespace}.{type.Name}";
        if (!type.IsGenericType)
        {
            return name.Replace('+', '.');
        }

        var builder = new StringBuilder(name[..name.IndexOf('`', StringComparison.Ordinal)].Replace('+', '.'));
        builder.Append('<').AppendJoin(", ", type.GetGenericArguments().Select(Name)).Append('>');
        return builder.ToString();
    }
}
