namespace AiFactory.Host.Hardware.Configure;

/// <summary>A kernel attribute an apply step must read is missing (ENOENT) or does not hold a number: the file and the errno.</summary>
public sealed class SysfsReadException : IOException
{
    /// <summary>Creates the exception; <paramref name="raw"/> is null when the file is missing.</summary>
    public SysfsReadException(string path, string? raw)
        : base(raw is null ? $"{path} is missing (errno 2, ENOENT)" : $"{path} holds \"{raw}\", not a number")
    {
        AttributePath = path;
        Errno = raw is null ? 2 : null;
    }

    /// <summary>The file, relative to its root.</summary>
    public string AttributePath { get; }

    /// <summary>2 (ENOENT) when the file is missing; null when it holds something else than a number.</summary>
    public int? Errno { get; }
}
