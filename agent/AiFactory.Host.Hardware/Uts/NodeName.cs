using System.Text;

namespace AiFactory.Host.Hardware.Uts;

/// <summary>
/// The kernel's node name, whole: <c>gethostname(2)</c>, what <c>uname -n</c> and Go's <c>os.Hostname</c> (so
/// dcgm-exporter's Hostname label) give. .NET's <see cref="Environment.MachineName"/> cuts it at the first dot.
/// </summary>
public static class NodeName
{
    /// <summary>The node name; <see cref="Environment.MachineName"/> only if the call fails (it does not on Linux).</summary>
    public static unsafe string Read()
    {
        // The kernel's limit is 64 bytes (__NEW_UTS_LEN); room for more and the terminating NUL.
        byte* buffer = stackalloc byte[256];
        if (Interop.Interop.Libc.GetHostName(buffer, 256) != 0)
        {
            return Environment.MachineName;
        }

        int length = new ReadOnlySpan<byte>(buffer, 256).IndexOf((byte)0);
        return Encoding.UTF8.GetString(buffer, length < 0 ? 256 : length);
    }
}
