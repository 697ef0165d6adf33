namespace AiFactory.Cli;

/// <summary>aifactoryctl's exit statuses.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The agent answered, and the answer is "not good" (NOT_SERVING, a refused request).</summary>
    public const int NotOk = 1;

    /// <summary>Bad command line (an unknown verb or option, a missing argument), or an invalid profile.</summary>
    public const int Usage = 2;

    /// <summary>A change failed and its rollback failed too: the node is half changed (a profile apply's journal is kept).</summary>
    public const int RollbackFailed = 3;

    /// <summary>The agent could not be reached or did not answer in time (EX_UNAVAILABLE).</summary>
    public const int Unavailable = 69;

    /// <summary>The output could not be written (a full disk, a closed terminal under stdout): EX_IOERR.</summary>
    public const int IoError = 74;
}
