using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The write-ahead journal of one apply, in the state dir (<c>profile/journal.json</c>). Before a step runs, its
/// inverse actions are appended and the file is replaced atomically (temp file, fsync, rename). After a crash the
/// next start finds it: <c>applying</c> means roll back, <c>complete</c> means the apply was verified and the file
/// is only removed. A rollback with an inverse action that failed never removes it: it becomes
/// <c>rollback-failed</c>, naming the failed actions, and applies are refused until a recovery runs them all.
/// Versioned and checksummed; a damaged file is refused, with what to do.
/// </summary>
public sealed class ProfileJournal(string stateDir)
{
    /// <summary>
    /// The format version written. Version 2 journals each destroyed MIG instance's compute instances
    /// (<see cref="UndoAction.Compute"/>); a version 1 journal (without them: one full-size compute instance) is still read.
    /// </summary>
    public const int FormatVersion = 2;

    /// <summary>The largest journal read: far above the few kilobytes an apply's steps take, and a bound on what a doctored file can make the agent allocate.</summary>
    public const int MaxBytes = 16 << 20;

    /// <summary>The phase of a journal whose rollback left inverse actions undone.</summary>
    public const string RollbackFailedPhase = "rollback-failed";

    private readonly List<JournalStep> _steps = [];
    private string _applyId = string.Empty;

    /// <summary>The journal file.</summary>
    public string FilePath { get; } = Path.Join(stateDir, "profile", "journal.json");

    /// <summary>True when a journal from an earlier run is on disk.</summary>
    public bool Exists => File.Exists(FilePath);

    /// <summary>Starts a journal for a new apply (replacing nothing: call <see cref="Load"/> and recover first).</summary>
    public void Begin(string applyId)
    {
        _applyId = applyId;
        _steps.Clear();
        Save("applying");
    }

    /// <summary>Records a step's inverse actions, durably, before the step runs.</summary>
    public void Append(JournalStep step)
    {
        _steps.Add(step);
        Save("applying");
    }

    /// <summary>Marks the apply verified complete, then removes the file.</summary>
    public void Complete()
    {
        Save("complete");
        Remove();
    }

    /// <summary>
    /// Keeps the journal of <paramref name="applyId"/> after a rollback that left <paramref name="errors"/> undone:
    /// phase <c>rollback-failed</c>, with <paramref name="steps"/> holding only the inverse actions still to run.
    /// </summary>
    public void RollbackFailed(string applyId, IReadOnlyList<JournalStep> steps, IReadOnlyList<string> errors)
    {
        _applyId = applyId;
        _steps.Clear();
        _steps.AddRange(steps);
        Save(RollbackFailedPhase, errors);
    }

    /// <summary>Removes the file (after a rollback or a completed apply).</summary>
    public void Remove()
    {
        File.Delete(FilePath);
        _steps.Clear();
        // Else a crash could bring a rolled-back journal back, and the next start would undo the steps again.
        string dir = Path.GetDirectoryName(FilePath)!;
        if (Directory.Exists(dir))
        {
            DurableFile.SyncDirectory(dir);
        }
    }

    /// <summary>Reads the journal on disk; throws <see cref="InvalidDataException"/> naming the file and what to do.</summary>
    /// <exception cref="IOException">
    /// It is not a regular file (a FIFO, device or symbolic link put there: refused naming it, never waited on), is
    /// larger than <see cref="MaxBytes"/>, or cannot be read.
    /// </exception>
    public JournalDocument Load()
    {
        string text;
        try
        {
            // Bounded, regular files only, opened O_NONBLOCK|O_NOFOLLOW: a FIFO here would otherwise block the
            // recovery check of every apply (and the offline command) until something wrote to it.
            text = Encoding.UTF8.GetString(
                BoundedFile.ReadBytes(FilePath, MaxBytes, followLinks: false) ?? throw new FileNotFoundException($"{FilePath}: does not exist", FilePath));
        }
        catch (IOException ex) when (ex is not FileNotFoundException)
        {
            throw new IOException($"profile journal {ex.Message}: remove it (the agent writes its journal as a regular file) and try again", ex);
        }
        JournalDocument? doc;
        try
        {
            doc = JsonSerializer.Deserialize(text, JournalJsonContext.Default.JournalDocument);
        }
        catch (JsonException ex)
        {
            throw Damaged($"not valid JSON ({ex.Message})");
        }

        if (doc is null)
        {
            throw Damaged("empty");
        }

        if (doc.Version is not (FormatVersion or 1))
        {
            throw Damaged($"format version {doc.Version}, this agent reads versions 1 and {FormatVersion}");
        }

        if (!string.Equals(doc.Checksum, Checksum(doc with { Checksum = string.Empty }), StringComparison.Ordinal))
        {
            throw Damaged("checksum mismatch");
        }

        return doc;
    }

    private InvalidDataException Damaged(string why) => new(
        $"profile journal {FilePath} is unusable: {why}. The last apply may be half done, and nothing of it can be undone from this file: " +
        "check by hand the vfio bindings (driver, driver_override), sriov_numvfs and sriov_drivers_autoprobe, nr_hugepages per node, " +
        "MIG mode and instances (nvidia-smi mig -lgi), AllowedCPUs= of system.slice, user.slice and init.scope (systemctl show -p AllowedCPUs), " +
        "the services the profile stops around a change (nvidia-persistenced, nvidia-fabricmanager, dcgm: start them again), " +
        "and the boot-time override files (/etc/aifactory/vfio-overrides.d); then remove the file and restart the agent.");

    private void Save(string phase, IReadOnlyList<string>? rollbackErrors = null)
    {
        var doc = new JournalDocument(FormatVersion, _applyId, phase, [.. _steps], string.Empty, rollbackErrors is null ? null : [.. rollbackErrors]);
        doc = doc with { Checksum = Checksum(doc) };
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(doc, JournalJsonContext.Default.JournalDocument);
        string dir = Path.GetDirectoryName(FilePath)!;
        Directory.CreateDirectory(dir);
        DurableFile.WriteAtomically(FilePath, bytes);
    }

    private static string Checksum(JournalDocument doc) =>
        Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(doc with { Checksum = string.Empty }, JournalJsonContext.Default.JournalDocument)));
}
