namespace Federation.Core.InMemory;

/// <summary>A growable double-ended queue of structs: queues need both FIFO delivery and requeue at the head, without per-message nodes.</summary>
internal sealed class RingBuffer<T>
{
    private T[] items = new T[4];
    private int head;

    public int Count { get; private set; }

    public ref T Front => ref items[head];

    public void PushBack(T item)
    {
        GrowIfFull();
        items[(head + Count) % items.Length] = item;
        Count++;
    }

    public void PushFront(T item)
    {
        GrowIfFull();
        head = (head - 1 + items.Length) % items.Length;
        items[head] = item;
        Count++;
    }

    public T PopFront()
    {
        var item = items[head];
        items[head] = default!;
        head = (head + 1) % items.Length;
        Count--;
        return item;
    }

    public void Clear()
    {
        Array.Clear(items);
        head = 0;
        Count = 0;
    }

    private void GrowIfFull()
    {
        if (Count < items.Length)
        {
            return;
        }

        var grown = new T[items.Length * 2];
        for (var i = 0; i < Count; i++)
        {
            grown[i] = items[(head + i) % items.Length];
        }

        items = grown;
        head = 0;
    }
}
