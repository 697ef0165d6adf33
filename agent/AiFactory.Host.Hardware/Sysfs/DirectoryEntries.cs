using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// The names in one directory, read with <c>getdents64</c> into one pooled buffer (no string per name until one is
/// asked for). "." and ".." are left out. Lets a reader skip the optional attributes a device does not have
/// (<c>sriov_*</c>, <c>physfn</c>, <c>virtfn*</c>) instead of paying a failed <c>open</c> for each.
/// </summary>
[SkipLocalsInit]
internal sealed unsafe class DirectoryEntries : IDisposable
{
    private byte[] _buffer;
    private int _length;

    private DirectoryEntries(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    /// <summary>Reads every entry of the open directory <paramref name="fd"/>; null with <paramref name="errno"/> when getdents fails.</summary>
    public static DirectoryEntries? Read(int fd, out int errno)
    {
        errno = 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        int length = 0;
        while (true)
        {
            if (buffer.Length - length < 1024)
            {
                byte[] bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                buffer.AsSpan(0, length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = bigger;
            }

            nint n;
            fixed (byte* b = &buffer[length])
            {
                n = Libc.GetDents64(fd, b, (nuint)(buffer.Length - length));
            }

            if (n < 0)
            {
                errno = Marshal.GetLastSystemError();
                ArrayPool<byte>.Shared.Return(buffer);
                return null;
            }

            if (n == 0)
            {
                return new DirectoryEntries(buffer, length);
            }

            length += (int)n;
        }
    }

    /// <summary>
    /// The order-free hash of the names of the open directory <paramref name="fd"/>, streamed through
    /// <paramref name="scratch"/> without allocating; false when getdents fails. Equals <see cref="Hash"/> of the same names.
    /// </summary>
    public static bool TryHash(int fd, Span<byte> scratch, out ulong hash)
    {
        hash = 0;
        while (true)
        {
            nint n;
            fixed (byte* b = scratch)
            {
                n = Libc.GetDents64(fd, b, (nuint)scratch.Length);
            }

            if (n < 0)
            {
                return false;
            }

            if (n == 0)
            {
                return true;
            }

            for (int offset = 0; offset < n;)
            {
                ReadOnlySpan<byte> name = NameAt(scratch, offset, out int next);
                if (!IsDotOrDotDot(name))
                {
                    hash ^= NameHash(name);
                }

                offset = next;
            }
        }
    }

    /// <summary>True when a name equal to <paramref name="name"/> is present.</summary>
    public bool Contains(ReadOnlySpan<char> name)
    {
        Span<byte> utf8 = stackalloc byte[256];
        if (!Encoding.UTF8.TryGetBytes(name, utf8, out int count))
        {
            return false;
        }

        ReadOnlySpan<byte> wanted = utf8[..count];
        for (int offset = 0; offset < _length;)
        {
            if (NameAt(_buffer, offset, out offset).SequenceEqual(wanted))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The names as strings, sorted ordinally.</summary>
    public List<string> Names()
    {
        var names = new List<string>();
        for (int offset = 0; offset < _length;)
        {
            ReadOnlySpan<byte> name = NameAt(_buffer, offset, out offset);
            if (!IsDotOrDotDot(name))
            {
                names.Add(Encoding.UTF8.GetString(name));
            }
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>The order-free hash of the names (each name's FNV-1a, XOR-folded).</summary>
    public ulong Hash()
    {
        ulong hash = 0;
        for (int offset = 0; offset < _length;)
        {
            ReadOnlySpan<byte> name = NameAt(_buffer, offset, out offset);
            if (!IsDotOrDotDot(name))
            {
                hash ^= NameHash(name);
            }
        }

        return hash;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            _length = 0;
        }
    }

    private static ReadOnlySpan<byte> NameAt(ReadOnlySpan<byte> buffer, int offset, out int next)
    {
        int recordLength = MemoryMarshal.Read<ushort>(buffer[(offset + Libc.Dirent64RecLenOffset)..]);
        next = offset + recordLength;
        ReadOnlySpan<byte> name = buffer[(offset + Libc.Dirent64NameOffset)..next];
        int end = name.IndexOf((byte)0);
        return end < 0 ? name : name[..end];
    }

    private static bool IsDotOrDotDot(ReadOnlySpan<byte> name) =>
        name.Length == 0 || (name[0] == (byte)'.' && (name.Length == 1 || (name.Length == 2 && name[1] == (byte)'.')));

    private static ulong NameHash(ReadOnlySpan<byte> name)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte c in name)
        {
            h = (h ^ c) * 1099511628211UL;
        }

        return h;
    }
}
