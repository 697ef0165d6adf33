using AiFactory.Grpc;

namespace AiFactory.Cli.Output;

/// <summary>Turns a failed call into one line on stderr and an exit status.</summary>
internal static class RpcErrors
{
    public static int Report(RpcException ex)
    {
        Console.Error.WriteLine($"aifactoryctl: {ex.StatusCode}: {ex.Detail}");
        return ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded ? ExitCodes.Unavailable : ExitCodes.NotOk;
    }
}
