using System.Text;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;

namespace AiFactory.Host.Hardware.Tests.Procfs;

/// <summary>
/// The bounded, never-blocking reader of procfs text files that pass one page (<c>self/mounts</c>, <c>net/route</c>),
/// and the line parsers host-needed detection runs over it.
/// </summary>
public sealed class ProcfsTextFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aifactory-procfs-text-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Every_line_is_seen_in_order_across_reads_and_a_last_line_without_newline_too()
    {
        string[] lines = [.. Enumerable.Range(0, 2000).Select(i => $"line {i} " + new string('x', i % 97))];
        string path = Write(string.Join('\n', lines));
        var sink = new Lines();

        ProcfsFileStatus status = ProcfsTextFile.ScanLines(SysfsFile.NativePath(path), 1 << 20, sink, out _);

        Assert.Equal(ProcfsFileStatus.Ok, status);
        Assert.Equal(lines, sink.Seen);
    }

    [Fact]
    public void A_line_longer_than_the_buffer_is_skipped_whole_and_the_next_is_seen()
    {
        string path = Write("first\n" + new string('y', ProcfsTextFile.MaxLine * 2 + 5) + "\nlast\n");
        var sink = new Lines();

        ProcfsTextFile.ScanLines(SysfsFile.NativePath(path), 1 << 20, sink, out _);

        Assert.Equal(["first", "last"], sink.Seen);
    }

    [Fact]
    public void A_file_past_the_bound_leaves_the_sink_empty()
    {
        string path = Write(string.Concat(Enumerable.Repeat("0123456789\n", 100)));
        var sink = new Lines();

        ProcfsFileStatus status = ProcfsTextFile.ScanLines(SysfsFile.NativePath(path), 500, sink, out _);

        Assert.Equal(ProcfsFileStatus.TooLarge, status);
        Assert.Empty(sink.Seen);
        Assert.Null(ProcfsTextFile.ReadWhole(SysfsFile.NativePath(path), 500, out status, out _));
        Assert.Equal(ProcfsFileStatus.TooLarge, status);
    }

    [Fact]
    public void A_directory_or_a_link_is_not_read_and_a_missing_file_is_missing()
    {
        string link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, Write("x\n"));

        Assert.Equal(ProcfsFileStatus.NotRegular, ProcfsTextFile.ScanLines(SysfsFile.NativePath(_dir), 1 << 20, new Lines(), out _));
        Assert.Equal(ProcfsFileStatus.Unreadable, ProcfsTextFile.ScanLines(SysfsFile.NativePath(link), 1 << 20, new Lines(), out int errno));
        Assert.Equal("ELOOP", SysfsFile.ErrnoName(errno));
        Assert.Equal(ProcfsFileStatus.Missing, ProcfsTextFile.ScanLines(SysfsFile.NativePath(Path.Combine(_dir, "absent")), 1 << 20, new Lines(), out _));
    }

    [Theory]
    [InlineData("/dev/nvme0n1p2 / ext4 rw 0 0", "/dev/nvme0n1p2")]
    [InlineData("/dev/sda1\t/\txfs rw 0 0", "/dev/sda1")]
    [InlineData("rootfs / rootfs rw 0 0", null)]
    [InlineData("/dev/nvme0n1p1 /boot/efi vfat rw 0 0", null)]
    [InlineData("/dev/nvme0n1p1", null)]
    [InlineData("", null)]
    [InlineData("   ", null)]
    public void A_mounts_line_is_a_root_mount_only_on_slash_and_not_for_the_initramfs(string line, string? device)
    {
        byte[] raw = Encoding.UTF8.GetBytes(line);

        bool found = MountsParser.TryParseRootMount(raw, out Range field);

        Assert.Equal(device is not null, found);
        Assert.Equal(device, found ? Encoding.UTF8.GetString(raw.AsSpan()[field]) : null);
    }

    [Theory]
    [InlineData("eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0", "eth0", 100L)]
    [InlineData("eth0\t00000000\t0100000A\t0002\t0\t0\t100\t00000000\t0\t0\t0", null, 0L)] // not up
    [InlineData("eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0", null, 0L)] // not the default
    [InlineData("eth0\t00000000\t0100000A\tzz\t0\t0\t100\t00000000", null, 0L)]
    [InlineData("eth0\t00000000\t0100000A\t0003\t0\t0\t-1\t00000000", null, 0L)]
    [InlineData("eth0\t00000000\t0100000A\t0003\t0\t0\t100", null, 0L)]
    [InlineData("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask", null, 0L)]
    public void A_route_line_is_a_default_route_only_when_up_with_destination_and_mask_zero(string line, string? iface, long metric)
    {
        byte[] raw = Encoding.UTF8.GetBytes(line);

        bool found = NetRouteParser.TryParseDefaultRoute(raw, out Range field, out long m);

        Assert.Equal(iface is not null, found);
        Assert.Equal(iface, found ? Encoding.UTF8.GetString(raw.AsSpan()[field]) : null);
        Assert.Equal(metric, found ? m : 0);
    }

    private string Write(string text)
    {
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, text);
        return path;
    }

    private sealed class Lines : IProcfsLineSink
    {
        public List<string> Seen { get; } = [];

        public void Reset() => Seen.Clear();

        public void Line(ReadOnlySpan<byte> line) => Seen.Add(Encoding.UTF8.GetString(line));
    }
}
