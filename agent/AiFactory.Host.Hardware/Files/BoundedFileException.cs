namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// A file <see cref="BoundedFile"/> would not or could not read. <see cref="Exception.Message"/> is
/// <c>path: problem</c>; <see cref="Problem"/> alone lets a caller put the path where its own messages put values.
/// Neither ever quotes a byte of the file.
/// </summary>
public sealed class BoundedFileException : IOException
{
    /// <summary>A file at <paramref name="path"/> refused for <paramref name="problem"/>.</summary>
    public BoundedFileException(string path, string problem, bool notUtf8 = false)
        : base($"{path}: {problem}")
    {
        Path = path;
        Problem = problem;
        NotUtf8 = notUtf8;
    }

    /// <summary>The path as the caller named it.</summary>
    public string Path { get; }

    /// <summary>What is wrong, without the path: <c>is a directory</c>, <c>is larger than 1 MiB</c>, ...</summary>
    public string Problem { get; }

    /// <summary>True when the file was read but is not UTF-8 (<see cref="Problem"/> names the offset of the first bad byte).</summary>
    public bool NotUtf8 { get; }
}
