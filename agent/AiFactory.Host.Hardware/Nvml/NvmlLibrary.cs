using System.Reflection;
using System.Runtime.InteropServices;
using AiFactory.Host.Hardware.Nvml.Interop;

namespace AiFactory.Host.Hardware.Nvml;

/// <summary>
/// Loads libnvidia-ml at run time, from the path the agent was given (<c>--nvml-library</c>), so the agent starts and
/// serves on a host without the driver. One library per process: the first successful <see cref="Open"/> decides.
/// </summary>
public static class NvmlLibrary
{
    private static readonly Lock Gate = new();
    private static string? _path;
    private static nint _handle;
    private static bool _resolverSet;

    /// <summary>The native library handle once loaded (for tests that call a fake's extra exports).</summary>
    public static nint Handle => _handle;

    /// <summary>Loads the library and initialises NVML; returns null and why not when it cannot.</summary>
    public static INvml? Open(string path, out string? error)
    {
        lock (Gate)
        {
            if (_handle == IntPtr.Zero)
            {
                if (!NativeLibrary.TryLoad(path, out nint handle))
                {
                    error = $"cannot load {path}: {NvmlReturn.LibraryNotFound.Describe()}";
                    return null;
                }

                _handle = handle;
                _path = path;
            }
            else if (_path != path)
            {
                error = $"NVML is already loaded from {_path}; cannot also load {path} in one process";
                return null;
            }

            if (!_resolverSet)
            {
                NativeLibrary.SetDllImportResolver(typeof(NvmlLibrary).Assembly, Resolve);
                _resolverSet = true;
            }
        }

        try
        {
            NvmlReturn rc = NativeMethods.InitWithFlags(0);
            if (rc != NvmlReturn.Success)
            {
                error = $"nvmlInitWithFlags: {rc.Describe()}";
                return null;
            }
        }
        catch (EntryPointNotFoundException ex)
        {
            error = $"{path} is not NVML: {ex.Message}";
            return null;
        }

        error = null;
        return new NvmlSession();
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == NativeMethods.Libraries.Nvml ? _handle : IntPtr.Zero;
}
