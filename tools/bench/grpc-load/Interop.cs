using System.Runtime.InteropServices;

namespace GrpcLoad;

/// <summary>
/// The two libc calls the open-loop dispatcher needs to start calls within microseconds of their due time without
/// spinning a core: a nanosecond sleep (Thread.Sleep rounds up to whole milliseconds) and a 1 ns timer slack for
/// the sleeping thread (Linux lets a normal thread's sleep run 50 µs over by default).
/// </summary>
internal static partial class Interop
{
    private const string Libc = "libc";
    private const int ClockMonotonic = 1;
    private const int PrSetTimerSlack = 29;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>Sleeps about <paramref name="nanoseconds"/> on CLOCK_MONOTONIC; returns early on a signal.</summary>
    public static void SleepNanoseconds(long nanoseconds)
    {
        var request = new Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
        _ = ClockNanosleep(ClockMonotonic, 0, in request, IntPtr.Zero);
    }

    /// <summary>Sets the calling thread's timer slack (prctl PR_SET_TIMERSLACK); false when the kernel refuses.</summary>
    public static bool SetTimerSlack(ulong nanoseconds) => Prctl(PrSetTimerSlack, (nuint)nanoseconds, 0, 0, 0) == 0;

    [LibraryImport(Libc, EntryPoint = "clock_nanosleep")]
    private static partial int ClockNanosleep(int clockId, int flags, in Timespec request, IntPtr remain);

    [LibraryImport(Libc, EntryPoint = "prctl")]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
