namespace AiFactory.Host.Hardware.Libvirt;

internal static partial class Interop
{
    /// <summary>Library names, in one place.</summary>
    internal static class Libraries
    {
        /// <summary>libvirt's client library (Debian package <c>libvirt0</c>).</summary>
        public const string Libvirt = "libvirt.so.0";

        /// <summary>The C library, for <c>free</c>.</summary>
        public const string Libc = "libc";
    }
}
