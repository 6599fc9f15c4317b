namespace Federation.Amqp;

/// <summary>
/// The unconfirmed publishes of one publisher, by publish sequence number. Sequence numbers are added in increasing order,
/// and the broker confirms them mostly in order, often many at once (<c>multiple</c>), so a ring buffer in sequence order
/// settles from its head in constant time per message, without the allocations of a sorted dictionary. A single confirm
/// out of order is found by binary search and leaves a hole that the head skips later.
/// </summary>
/// <typeparam name="T">What is waiting for the confirm.</typeparam>
/// <remarks>Not thread-safe: the publisher serialises access.</remarks>
internal sealed class ConfirmWindow<T>
    where T : class
{
    private const int InitialCapacity = 64;

    private ulong[] _sequences = new ulong[InitialCapacity];
    private T?[] _items = new T?[InitialCapacity];
    private int _head;
    private int _length;
    private ulong _lastAdded;

    /// <summary>Unconfirmed publishes.</summary>
    public int Count { get; private set; }

    /// <summary>Adds a publish; its sequence number must be above every one added before.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The sequence number does not increase.</exception>
    public void Add(ulong sequence, T item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (Count > 0 && sequence <= _lastAdded)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"Publish sequence numbers must increase; the last added was {_lastAdded}.");
        }

        if (_length == _sequences.Length)
        {
            Grow();
        }

        var slot = (_head + _length) % _sequences.Length;
        _sequences[slot] = sequence;
        _items[slot] = item;
        _length++;
        Count++;
        _lastAdded = sequence;
    }

    /// <summary>Removes every publish up to and including <paramref name="sequence"/> into <paramref name="settled"/>, in order.</summary>
    public void TakeUpTo(ulong sequence, List<T> settled)
    {
        while (_length > 0 && _sequences[_head] <= sequence)
        {
            if (_items[_head] is { } item)
            {
                settled.Add(item);
                Count--;
            }

            RemoveHead();
        }
    }

    /// <summary>Removes one publish, if it is waiting.</summary>
    public bool TryTake(ulong sequence, out T? item)
    {
        var index = IndexOf(sequence);
        if (index < 0)
        {
            item = null;
            return false;
        }

        var slot = (_head + index) % _sequences.Length;
        item = _items[slot];
        _items[slot] = null;
        Count--;
        while (_length > 0 && _items[_head] is null)
        {
            RemoveHead();
        }

        return true;
    }

    /// <summary>
    /// Takes back the publish added last, which was never written (its publish was cancelled), so that the same sequence
    /// number can be added again: the client hands it to the next publish.
    /// </summary>
    /// <returns>Whether it was still waiting (a channel failure may have taken it already).</returns>
    public bool Withdraw(ulong sequence)
    {
        if (_length == 0 || sequence != _lastAdded)
        {
            return false;
        }

        var tail = (_head + _length - 1) % _sequences.Length;
        if (_sequences[tail] != sequence)
        {
            return false;
        }

        var wasWaiting = _items[tail] is not null;
        _items[tail] = null;
        _length--;
        if (wasWaiting)
        {
            Count--;
        }

        _lastAdded = sequence - 1;
        return wasWaiting;
    }

    /// <summary>Removes every waiting publish into <paramref name="settled"/>, in order.</summary>
    public void TakeAll(List<T> settled) => TakeUpTo(ulong.MaxValue, settled);

    private int IndexOf(ulong sequence)
    {
        int low = 0, high = _length - 1;
        while (low <= high)
        {
            var middle = low + ((high - low) / 2);
            var slot = (_head + middle) % _sequences.Length;
            if (_sequences[slot] == sequence)
            {
                return _items[slot] is null ? -1 : middle;
            }

            if (_sequences[slot] < sequence)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return -1;
    }

    private void RemoveHead()
    {
        _items[_head] = null;
        _head = (_head + 1) % _sequences.Length;
        _length--;
    }

    private void Grow()
    {
        var sequences = new ulong[_sequences.Length * 2];
        var items = new T?[sequences.Length];
        for (var i = 0; i < _length; i++)
        {
            var slot = (_head + i) % _sequences.Length;
            sequences[i] = _sequences[slot];
            items[i] = _items[slot];
        }

        _sequences = sequences;
        _items = items;
        _head = 0;
    }
}
