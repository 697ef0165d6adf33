namespace AiFactory.Cli.Interop;

/// <summary>Native library names.</summary>
internal static partial class Interop
{
    internal static class Libraries
    {
        public const string Libc = "libc";
    }
}
