using System.Buffers;

namespace AiFactory.Agent.Metrics.Exposition;

/// <summary>A growable UTF-8 byte buffer on an <see cref="ArrayPool{T}"/>; dispose to give the array back.</summary>
internal sealed class PooledBuffer : IDisposable
{
    private readonly ArrayPool<byte> _pool;
    private byte[] _array;

    /// <summary>A buffer of at least <paramref name="initialCapacity"/> bytes from <paramref name="pool"/> (the shared pool if null).</summary>
    public PooledBuffer(int initialCapacity = 16 * 1024, ArrayPool<byte>? pool = null)
    {
        _pool = pool ?? ArrayPool<byte>.Shared;
        _array = _pool.Rent(initialCapacity);
    }

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Written => _array.AsMemory(0, Length);

    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, Length);

    /// <summary>A span of at least <paramref name="size"/> free bytes at the end; call <see cref="Advance"/> after writing.</summary>
    public Span<byte> GetSpan(int size)
    {
        if (_array.Length - Length < size)
        {
            Grow(size);
        }

        return _array.AsSpan(Length);
    }

    public void Advance(int count) => Length += count;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Length += bytes.Length;
    }

    public void Write(byte b)
    {
        if (Length == _array.Length)
        {
            Grow(1);
        }

        _array[Length++] = b;
    }

    /// <summary>Cuts the content back to <paramref name="length"/> bytes (a collector that failed half-way).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(length));
        }

        Length = length;
    }

    public void Dispose()
    {
        byte[] array = _array;
        _array = [];
        Length = 0;
        if (array.Length > 0)
        {
            _pool.Return(array);
        }
    }

    private void Grow(int size)
    {
        int wanted = Math.Max(_array.Length * 2, Length + size);
        byte[] bigger = _pool.Rent(wanted);
        _array.AsSpan(0, Length).CopyTo(bigger);
        if (_array.Length > 0)
        {
            _pool.Return(_array);
        }

        _array = bigger;
    }
}
