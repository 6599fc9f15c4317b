using System.Globalization;
using System.Text;
using Federation.Core.Transport;

namespace Federation.Amqp;

/// <summary>
/// Reads the argument entries of rabbitmq_event_exchange events. RabbitMQ 3.x puts each binding or exchange argument into
/// the event's <c>arguments</c> header as the printed Erlang term <c>{&lt;&lt;"name"&gt;&gt;,type,value}</c>, for example
/// <c>{&lt;&lt;"x-bound-from"&gt;&gt;,array,[{table,[{&lt;&lt;"hops"&gt;&gt;,long,1}]}]}</c>, so the types survive only in this text.
/// </summary>
internal static class ErlangTermReader
{
    /// <summary>Converts the printed argument entries to a table, or <see langword="null"/> when there are none.</summary>
    /// <exception cref="FormatException">
    /// An entry is not a printed <c>{Name, Type, Value}</c> triple, or holds a value no .NET type can hold (a decimal of
    /// scale above 28). Nothing else: the caller skips such an event.
    /// </exception>
    public static Dictionary<string, object?>? ReadArguments(IEnumerable<object?>? entries)
    {
        try
        {
            return Read(entries);
        }
        catch (Exception error) when (error is OverflowException or InvalidCastException or ArgumentException)
        {
            // Arguments come from whoever made the binding: a value out of range must not escape as anything but a
            // FormatException, which the caller expects.
            throw new FormatException($"An event argument cannot be read: {error.Message}", error);
        }
    }

    private static Dictionary<string, object?>? Read(IEnumerable<object?>? entries)
    {
        Dictionary<string, object?>? result = null;
        foreach (var entry in entries ?? [])
        {
            var text = entry as string ?? throw new FormatException("An event argument is not text.");
            var reader = new Reader(text);
            var term = reader.ReadTerm();
            reader.ExpectEnd();
            var (name, value) = Field(term);
            result ??= new Dictionary<string, object?>(StringComparer.Ordinal);
            result[name] = value;
        }

        return result;
    }

    private static (string Name, object? Value) Field(object term) =>
        term is Tuple { Items: [Binary name, Atom type, var value] }
            ? (Encoding.UTF8.GetString(name.Bytes), Typed(type.Name, value))
            : throw new FormatException("Expected a {Name, Type, Value} field.");

    private static object? Typed(string type, object value) => (type, value) switch
    {
        ("longstr", Binary text) => NonUtf8String.FromOwnedBytes(text.Bytes),
        ("binary", Binary bytes) => bytes.Bytes,
        ("bool", Atom flag) => flag.Name == "true",
        ("long" or "signedint" or "short" or "byte" or "unsignedbyte" or "unsignedshort" or "unsignedint", long number) => number,
        ("timestamp", long seconds) => UnrepresentableTimestamp.FromUnixSeconds(seconds),
        // Erlang prints the 64 bits unsigned; the client and the wire carry the same bits as a long.
        ("timestamp", ulong seconds) => UnrepresentableTimestamp.FromUnixSeconds(unchecked((long)seconds)),
        ("double", double or long) => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        ("float", double or long) => Convert.ToSingle(value, CultureInfo.InvariantCulture),
        // .NET's decimal holds scales 0 to 28 only; AMQP allows up to 255 (RabbitMQ.Client cannot carry those either).
        ("decimal", Tuple { Items: [long scale and >= 0 and <= 28, long unscaled] }) => unscaled / (decimal)Math.Pow(10, scale),
        ("decimal", Tuple { Items: [long scale, _] }) => throw new FormatException($"A decimal of scale {scale} cannot be represented (at most 28)."),
        ("table", List fields) => fields.Items.Select(Field).ToDictionary(f => f.Name, f => f.Value, StringComparer.Ordinal),
        ("array", List items) => items.Items.Select(item => item is Tuple { Items: [Atom itemType, var itemValue] }
            ? Typed(itemType.Name, itemValue)
            : throw new FormatException("Expected a {Type, Value} array item.")).ToList(),
        ("void", _) => null,
        _ => throw new FormatException($"Unsupported argument type '{type}'."),
    };

    private sealed record Tuple(List<object> Items);

    private sealed record List(List<object> Items);

    private sealed record Binary(byte[] Bytes);

    private sealed record Atom(string Name);

    private ref struct Reader(string text)
    {
        private readonly string text = text;
        private int position;

        public object ReadTerm()
        {
            SkipSpace();
            var c = Peek();
            switch (c)
            {
                case '{':
                    position++;
                    return new Tuple(ReadSequence('}'));
                case '[':
                    position++;
                    return new List(ReadSequence(']'));
                case '<':
                    return ReadBinary();
                case '"':
                    return new Binary(Encoding.Latin1.GetBytes(ReadQuoted('"')));
                case '\'':
                    return new Atom(ReadQuoted('\''));
            }

            if (c == '-' || char.IsAsciiDigit(c))
            {
                return ReadNumber();
            }

            if (char.IsAsciiLetterLower(c))
            {
                var start = position;
                while (position < text.Length && (char.IsAsciiLetterOrDigit(text[position]) || text[position] is '_' or '@'))
                {
                    position++;
                }

                return new Atom(text[start..position]);
            }

            throw new FormatException($"Unexpected '{c}' at {position}.");
        }

        public void ExpectEnd()
        {
            SkipSpace();
            if (position != text.Length)
            {
                throw new FormatException($"Unexpected text after the term at {position}.");
            }
        }

        private List<object> ReadSequence(char close)
        {
            var items = new List<object>();
            SkipSpace();
            if (Peek() == close)
            {
                position++;
                return items;
            }

            while (true)
            {
                items.Add(ReadTerm());
                SkipSpace();
                var c = Next();
                if (c == close)
                {
                    return items;
                }

                if (c != ',')
                {
                    throw new FormatException($"Expected ',' or '{close}' at {position - 1}.");
                }
            }
        }

        private Binary ReadBinary()
        {
            Expect('<');
            Expect('<');
            SkipSpace();
            var bytes = new List<byte>();
            if (Peek() == '"')
            {
                // ~p may split a long binary into several adjacent strings, and marks UTF-8 text with /utf8.
                var builder = new StringBuilder();
                while (Peek() == '"')
                {
                    builder.Append(ReadQuoted('"'));
                    SkipSpace();
                }

                var utf8 = false;
                if (Peek() == '/')
                {
                    position++;
                    var start = position;
                    while (char.IsAsciiLetterOrDigit(Peek()))
                    {
                        position++;
                    }

                    utf8 = text[start..position] == "utf8";
                }

                bytes.AddRange(utf8 ? Encoding.UTF8.GetBytes(builder.ToString()) : Encoding.Latin1.GetBytes(builder.ToString()));
                SkipSpace();
            }
            else
            {
                while (Peek() != '>')
                {
                    bytes.Add(checked((byte)(long)ReadNumber()));
                    SkipSpace();
                    if (Peek() == ',')
                    {
                        position++;
                    }

                    SkipSpace();
                }
            }

            Expect('>');
            Expect('>');
            return new Binary([.. bytes]);
        }

        private string ReadQuoted(char quote)
        {
            Expect(quote);
            var builder = new StringBuilder();
            while (true)
            {
                var c = Next();
                if (c == quote)
                {
                    return builder.ToString();
                }

                if (c != '\\')
                {
                    builder.Append(c);
                    continue;
                }

                var escaped = Next();
                if (escaped is >= '0' and <= '7')
                {
                    var start = position - 1;
                    while (position < text.Length && position - start < 3 && text[position] is >= '0' and <= '7')
                    {
                        position++;
                    }

                    builder.Append((char)Convert.ToInt32(text[start..position], 8));
                    continue;
                }

                builder.Append(escaped switch
                {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    's' => ' ',
                    'e' => '\u001b',
                    'b' => '\b',
                    'f' => '\f',
                    'v' => '\v',
                    'd' => '\u007f',
                    _ => escaped,
                });
            }
        }

        private object ReadNumber()
        {
            var start = position;
            if (Peek() == '-')
            {
                position++;
            }

            while (position < text.Length && (char.IsAsciiDigit(text[position]) || text[position] is '.' or 'e' or 'E' or '+' or '-'))
            {
                position++;
            }

            var token = text[start..position];
            return long.TryParse(token, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer) ? integer
                : ulong.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var unsigned) ? (object)unsigned
                : double.Parse(token, NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        private void SkipSpace()
        {
            while (position < text.Length && char.IsWhiteSpace(text[position]))
            {
                position++;
            }
        }

        private readonly char Peek() => position < text.Length ? text[position] : '\0';

        private char Next() => position < text.Length ? text[position++] : throw new FormatException("Unexpected end of term.");

        private void Expect(char c)
        {
            if (Next() != c)
            {
                throw new FormatException($"Expected '{c}' at {position - 1}.");
            }
        }
    }
}
