namespace AiFactory.Host.Hardware.Procfs;

/// <summary>Outcome of reading a procfs text file with <see cref="ProcfsTextFile"/>.</summary>
public enum ProcfsFileStatus
{
    /// <summary>Read to its end.</summary>
    Ok,

    /// <summary>The file does not exist.</summary>
    Missing,

    /// <summary>It is not a regular file (a FIFO, socket or device in a doctored tree): not read.</summary>
    NotRegular,

    /// <summary>It could not be opened or read (EACCES, ELOOP for a link, EIO, ...).</summary>
    Unreadable,

    /// <summary>It passes the size bound: not read at all.</summary>
    TooLarge,
}
