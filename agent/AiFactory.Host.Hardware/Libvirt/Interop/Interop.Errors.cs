using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Libvirt;

internal static unsafe partial class Interop
{
    /// <summary><c>const char *virGetLastErrorMessage(void)</c>: this thread's last error, never NULL.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virGetLastErrorMessage")]
    internal static partial IntPtr GetLastErrorMessage();

    /// <summary><c>void virSetErrorFunc(void *userData, virErrorFunc handler)</c>.</summary>
    [LibraryImport(Libraries.Libvirt, EntryPoint = "virSetErrorFunc")]
    internal static partial void SetErrorFunc(IntPtr userData, delegate* unmanaged<IntPtr, IntPtr, void> handler);

    /// <summary>
    /// Silences libvirt's default print of every error to stderr: <c>virSetErrorFunc(NULL, NULL)</c> does not (measured),
    /// a no-op handler does. Errors are still read with <see cref="GetLastErrorMessage"/>.
    /// </summary>
    internal static void SilenceErrorPrinting() => SetErrorFunc(IntPtr.Zero, &IgnoreError);

    [UnmanagedCallersOnly]
    private static void IgnoreError(IntPtr userData, IntPtr error)
    {
    }

    /// <summary>The last libvirt error on this thread, as a string.</summary>
    internal static string LastError() => Marshal.PtrToStringUTF8(GetLastErrorMessage()) ?? "unknown libvirt error";

    /// <summary>Copies a <c>char*</c> the caller owns, then frees it.</summary>
    internal static string? TakeString(IntPtr ptr)
    {
        if (ptr == IntPtr.Zero)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(ptr);
        }
        finally
        {
            Free(ptr);
        }
    }
}
