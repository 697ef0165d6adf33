namespace AiFactory.Host.Hardware.Nvml.Interop;

/// <summary>Native library names, in one place.</summary>
internal static partial class NativeMethods
{
    internal static class Libraries
    {
        /// <summary>
        /// The NVML library's logical name in every <c>[LibraryImport]</c>. <see cref="NvmlLibrary"/> resolves it at run
        /// time to the configured file (<c>libnvidia-ml.so.1</c> by default, a fake in tests), so the agent starts
        /// without the driver.
        /// </summary>
        public const string Nvml = "libnvidia-ml.so.1";
    }
}
