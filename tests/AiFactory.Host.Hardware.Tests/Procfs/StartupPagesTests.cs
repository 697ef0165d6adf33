using System.IO.MemoryMappedFiles;
using AiFactory.Host.Hardware.Procfs;

namespace AiFactory.Host.Hardware.Tests.Procfs;

public sealed class StartupPagesTests : IDisposable
{
    private const int FileBytes = 4 << 20;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "aifactory-pages-" + Guid.NewGuid().ToString("N"));

    public StartupPagesTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Smaps_mappings_are_read_with_their_resident_and_private_bytes()
    {
        const string Smaps = """
            55d0c7a00000-55d0c7a29000 r--p 00000000 fd:00 1234                       /usr/bin/aifactory-agent
            Size:                164 kB
            Rss:                 160 kB
            Anonymous:             0 kB
            VmFlags: rd mr mw me dw sd
            55d0c7a29000-55d0c85a6000 r-xp 00029000 fd:00 1234                       /usr/bin/aifactory-agent
            Rss:                7480 kB
            Anonymous:             0 kB
            55d0c9258000-55d0c925a000 r--p 01657000 fd:00 1234                       /usr/bin/aifactory-agent
            Rss:                   8 kB
            Anonymous:             8 kB
            55d0c925a000-55d0c92ad000 rw-p 01659000 fd:00 1234                       /usr/bin/aifactory-agent
            Rss:                 332 kB
            Anonymous:           200 kB
            7ffd1000-7ffd2000 r--p 00000000 fd:00 99 /opt/my app/with spaces (deleted)
            Rss: 4 kB
            Anonymous: 0 kB
            7ffe0000-7ffe1000 rw-p 00000000 00:00 0
            Rss: garbage kB
            this line is not a key
            zz-yy r--p 0 0 0 /not/a/range
            """;

        List<StartupPages.Mapping> mappings = StartupPages.Parse(Smaps);

        Assert.Equal(6, mappings.Count);
        Assert.Equal(new StartupPages.Mapping(0x55d0c7a00000, 0x55d0c7a29000, "r--p", "/usr/bin/aifactory-agent", 160 << 10, 0), mappings[0]);
        Assert.Equal(7480L << 10, mappings[1].RssBytes);
        Assert.Equal([true, true, false, false, true, false], mappings.Select(m => m.CanDrop));
        Assert.Equal("/opt/my app/with spaces (deleted)", mappings[4].Path);
        Assert.Equal((string.Empty, 0L), (mappings[5].Path, mappings[5].RssBytes));
    }

    [Fact]
    public void Dropping_a_read_only_mapping_unmaps_its_pages_and_its_contents_read_back_the_same()
    {
        string path = WriteFile("readonly.bin", seed: 7);
        using var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using MemoryMappedViewAccessor view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        long sum = Sum(view);
        Assert.True(Resident(path) >= FileBytes / 2, $"the mapping should be resident after reading it, is {Resident(path)} bytes");

        StartupPages.Result result = StartupPages.Drop(path);

        Assert.Equal(1, result.Mappings);
        Assert.Equal(0, result.Skipped);
        Assert.True(result.ResidentBefore >= FileBytes / 2, $"resident before: {result.ResidentBefore}");
        Assert.True(result.ResidentAfter < FileBytes / 8, $"resident after: {result.ResidentAfter}");
        Assert.True(Resident(path) < FileBytes / 8, $"resident now: {Resident(path)}");
        Assert.Equal(sum, Sum(view));
        Assert.True(Resident(path) >= FileBytes / 2, "reading it again maps it again");
    }

    [Fact]
    public void Without_the_after_measure_the_pages_are_dropped_and_nothing_is_measured()
    {
        string path = WriteFile("idle.bin", seed: 3);
        using var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using MemoryMappedViewAccessor view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        long sum = Sum(view);

        StartupPages.Result result = StartupPages.Drop(path, measureAfter: false);

        Assert.Equal((1, -1L), (result.Mappings, result.ResidentAfter));
        Assert.True(result.ResidentBefore >= FileBytes / 2, $"resident before: {result.ResidentBefore}");
        Assert.True(Resident(path) < FileBytes / 8, $"resident now: {Resident(path)}");
        Assert.Equal(sum, Sum(view));
    }

    [Fact]
    public void A_mapping_written_to_is_left_alone_and_keeps_what_was_written()
    {
        string path = WriteFile("private.bin", seed: 11);
        using var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.CopyOnWrite);
        using MemoryMappedViewAccessor view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.CopyOnWrite);
        for (long offset = 0; offset < FileBytes; offset += 4096)
        {
            view.Write(offset, (byte)0xA5);
        }

        StartupPages.Result result = StartupPages.Drop(path);

        Assert.Equal((0, 1), (result.Mappings, result.Skipped));
        for (long offset = 0; offset < FileBytes; offset += 4096)
        {
            Assert.Equal(0xA5, view.ReadByte(offset));
        }

        Assert.Equal(File.ReadAllBytes(path)[4096 + 1], view.ReadByte(4096 + 1));
        Assert.NotEqual(0xA5, File.ReadAllBytes(path)[4096]);
    }

    [Fact]
    public void A_file_this_process_does_not_map_drops_nothing()
    {
        StartupPages.Result result = StartupPages.Drop(Path.Combine(_dir, "not-mapped"));

        Assert.Equal(new StartupPages.Result(0, 0, 0, 0), result);
    }

    [Fact]
    public void An_unreadable_smaps_path_is_an_io_error_naming_it()
    {
        string missing = Path.Combine(_dir, "no-smaps");

        var ex = Assert.ThrowsAny<IOException>(() => StartupPages.Drop("/usr/bin/anything", missing));

        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
    }

    private static long Resident(string path) =>
        StartupPages.Parse(File.ReadAllText("/proc/self/smaps")).Where(m => m.Path == path).Sum(m => m.RssBytes);

    private static long Sum(MemoryMappedViewAccessor view)
    {
        long sum = 0;
        for (long offset = 0; offset < FileBytes; offset += 512)
        {
            sum += view.ReadByte(offset) * (offset + 1);
        }

        return sum;
    }

    private string WriteFile(string name, int seed)
    {
        string path = Path.Combine(_dir, name);
        var bytes = new byte[FileBytes];
        new Random(seed).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
