namespace AiFactory.Host.Hardware.Configure;

/// <summary>A kernel attribute write the kernel refused: the file, the value and the errno.</summary>
public sealed class SysfsWriteException : IOException
{
    /// <summary>Creates the exception.</summary>
    public SysfsWriteException(string path, string value, int errno, string reason)
        : base($"write \"{value.Trim()}\" to {path} failed: {reason} (errno {errno})")
    {
        AttributePath = path;
        Value = value;
        Errno = errno;
    }

    /// <summary>The file, relative to its root.</summary>
    public string AttributePath { get; }

    /// <summary>The value written.</summary>
    public string Value { get; }

    /// <summary>The errno (16 EBUSY, 19 ENODEV, 22 EINVAL, ...), or 0 when unknown.</summary>
    public int Errno { get; }
}
