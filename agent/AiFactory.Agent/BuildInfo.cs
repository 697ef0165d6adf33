using System.Reflection;
using System.Runtime.InteropServices;

namespace AiFactory.Agent;

/// <summary>The build's version and commit (from the informational version "X.Y.Z+commit") and the runtime.</summary>
internal static class BuildInfo
{
    private static readonly string Informational =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static string Version => Informational.Split('+')[0];

    public static string Commit => Informational.Contains('+', StringComparison.Ordinal) ? Informational.Split('+')[1] : "unknown";

    public static string Runtime =>
        RuntimeInformation.FrameworkDescription + (RuntimeFeature.IsDynamicCodeSupported ? " (JIT)" : " (native AOT)");

    private static class RuntimeFeature
    {
        public static bool IsDynamicCodeSupported => System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported;
    }
}
