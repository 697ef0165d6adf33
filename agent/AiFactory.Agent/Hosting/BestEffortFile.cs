namespace AiFactory.Agent.Hosting;

/// <summary>File clean-up whose failure changes nothing the caller could act on.</summary>
internal static class BestEffortFile
{
    /// <summary>Deletes <paramref name="path"/> if it exists; an I/O or permission error is ignored.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
