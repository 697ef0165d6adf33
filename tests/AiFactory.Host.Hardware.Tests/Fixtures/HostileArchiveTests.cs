using System.Diagnostics;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Fixtures;

/// <summary>
/// Archives from bug reports are untrusted: a link made by one entry must not carry a later entry outside the folder
/// being unpacked into. Both unpackers (TextArchive and tools/fixture.sh) are run on the same hostile archives inside
/// a sandbox folder, and nothing in the sandbox outside the destination may change.
/// </summary>
public sealed class HostileArchiveTests : IDisposable
{
    // Each link reads as inside the tree on its text, but follows the one before: sys/a/d is sys, so sys/a/d/e is made
    // as sys/e and points at the destination, and sys/a/d/e/f is made as f in the destination, pointing above it.
    private const string Chain =
        "Directory: sys/a\nMode: 755\n# ttar - - -\n" +
        "Path: sys/a/d\nSymlinkTo: ..\n# ttar - - -\n" +
        "Path: sys/a/d/e\nSymlinkTo: ..\n# ttar - - -\n" +
        "Path: sys/a/d/e/f\nSymlinkTo: ..\n# ttar - - -\n";

    private const string WritesAboveTheDestination = Chain + "Path: sys/a/d/e/f/PWNED\nLines: 1\nx\nMode: 644\n# ttar - - -\n";

    // One more hop reaches the sandbox, where a link entry would delete sandbox/victim and put a link in its place.
    private const string ReplacesAFileAboveTheDestination = Chain +
        "Path: sys/a/d/e/f/g\nSymlinkTo: ..\n# ttar - - -\n" +
        "Path: sys/a/d/e/f/g/victim\nSymlinkTo: ..\n# ttar - - -\n";

    // A file entry on a path an earlier entry made a link would write wherever the link points: sys/x reads as
    // dest/victim on the text, but sys/a/d is sys, so it is sandbox/victim.
    private const string WritesThroughAFinalLink =
        "Directory: sys/a\nMode: 755\n# ttar - - -\n" +
        "Path: sys/a/d\nSymlinkTo: ..\n# ttar - - -\n" +
        "Path: sys/x\nSymlinkTo: a/d/../../../victim\n# ttar - - -\n" +
        "Path: sys/x\nLines: 1\noverwritten\nMode: 644\n# ttar - - -\n";

    private readonly string _sandbox = Directory.CreateTempSubdirectory("aifactory-hostile-").FullName;

    public HostileArchiveTests()
    {
        Directory.CreateDirectory(Path.Combine(_sandbox, "inner", "dest"));
        File.WriteAllText(Path.Combine(_sandbox, "victim"), "original\n");
    }

    private string Destination => Path.Combine(_sandbox, "inner", "dest");

    public void Dispose() => Directory.Delete(_sandbox, true);

    public static TheoryData<string> Archives => new() { WritesAboveTheDestination, ReplacesAFileAboveTheDestination, WritesThroughAFinalLink };

    [Theory]
    [MemberData(nameof(Archives))]
    public void The_csharp_unpacker_refuses_to_write_through_a_link_and_leaves_the_sandbox_alone(string archive)
    {
        IReadOnlyList<ArchiveEntry> entries = TextArchive.Parse(new StringReader(archive));

        Assert.Throws<InvalidDataException>(() => TextArchive.Extract(entries, Destination));

        AssertSandboxUntouched();
    }

    [Theory]
    [MemberData(nameof(Archives))]
    public void The_shell_unpacker_refuses_to_write_through_a_link_and_leaves_the_sandbox_alone(string archive)
    {
        string file = Path.Combine(_sandbox, "hostile.ttar");
        File.WriteAllText(file, archive);

        (int status, string stderr) = RunFixtureScript("unpack", file, Destination);

        Assert.NotEqual(0, status);
        Assert.Contains("refusing", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Traceback", stderr, StringComparison.Ordinal);
        AssertSandboxUntouched();
    }

    [Fact]
    public void Both_unpackers_still_unpack_a_real_fixture_with_its_links()
    {
        string shell = Path.Combine(_sandbox, "shell");
        string csharp = Path.Combine(_sandbox, "csharp");

        (int status, string stderr) = RunFixtureScript("unpack", "workstation", shell);
        TextArchive.Extract(HardwareFixtures.ArchivePath("workstation"), csharp);

        Assert.True(status == 0, stderr);
        const string Link = "sys/bus/pci/devices/0000:01:00.0";
        Assert.Equal(new FileInfo(Path.Combine(csharp, Link)).LinkTarget, new FileInfo(Path.Combine(shell, Link)).LinkTarget);
        Assert.True(File.Exists(Path.Combine(shell, Link, "vendor")));
        Assert.Equal(File.ReadAllText(Path.Combine(csharp, Link, "vendor")), File.ReadAllText(Path.Combine(shell, Link, "vendor")));
    }

    private void AssertSandboxUntouched()
    {
        string outside = string.Join(",", Directory.EnumerateFileSystemEntries(_sandbox).Select(Path.GetFileName).Where(n => n != "hostile.ttar").Order(StringComparer.Ordinal));
        Assert.Equal("inner,victim", outside);
        Assert.Null(new FileInfo(Path.Combine(_sandbox, "victim")).LinkTarget);
        Assert.Equal("original\n", File.ReadAllText(Path.Combine(_sandbox, "victim")));
        Assert.Equal("dest", string.Join(",", Directory.EnumerateFileSystemEntries(Path.Combine(_sandbox, "inner")).Select(Path.GetFileName)));
        Assert.False(File.Exists(Path.Combine(Destination, "PWNED")));
    }

    private static (int Status, string Stderr) RunFixtureScript(params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(HardwareFixtures.RepositoryRoot, "tools", "fixture.sh")) { RedirectStandardError = true };
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using Process p = Process.Start(start)!;
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stderr);
    }
}
