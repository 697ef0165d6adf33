using AiFactory.Grpc;

namespace AiFactory.Cli.Output;

/// <summary>Turns a failed call into one line on stderr and an exit status.</summary>
internal static class RpcErrors
{
    public static int Report(RpcException ex)
    {
        Console.Error.WriteLine($"aifactoryctl: {ex.StatusCode}: {Describe(ex)}");
        return ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded ? ExitCodes.Unavailable : ExitCodes.NotOk;
    }

    /// <summary>
    /// The status's detail, and for an agent that cannot be reached the innermost cause as well: HttpClient's own
    /// messages ("The SSL connection could not be established, see inner exception.") leave out the reason.
    /// </summary>
    internal static string Describe(RpcException ex)
    {
        if (ex.StatusCode != StatusCode.Unavailable || ex.InnerException is null)
        {
            return ex.Detail;
        }

        Exception innermost = ex.InnerException;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        string cause = innermost.Message.ReplaceLineEndings(" ");
        return ex.Detail.Contains(cause, StringComparison.Ordinal) ? ex.Detail : $"{ex.Detail} ({cause})";
    }
}
