using System.Net.Sockets;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Host.Hardware.Tests.Files;

public sealed class FileIdentityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aifactory-fileidentity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_bound_unix_socket_is_a_socket()
    {
        string path = Path.Combine(_dir, "a.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));

        FileIdentity? identity = FileIdentity.OfPath(path);

        Assert.True(identity?.IsSocket);
    }

    [Fact]
    public void A_regular_file_a_directory_and_a_link_to_a_socket_are_not_sockets()
    {
        string file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "data");
        string sock = Path.Combine(_dir, "b.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(sock));
        string link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, sock);

        Assert.False(FileIdentity.OfPath(file)?.IsSocket);
        Assert.False(FileIdentity.OfPath(_dir)?.IsSocket);
        Assert.False(FileIdentity.OfPath(link)?.IsSocket);
    }

    [Fact]
    public void A_link_is_followed_only_when_asked_and_file_types_are_told_apart()
    {
        string file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "data");
        string link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, file);
        string dangling = Path.Combine(_dir, "dangling");
        File.CreateSymbolicLink(dangling, Path.Combine(_dir, "gone"));

        Assert.True(FileIdentity.OfPath(file)?.IsRegularFile);
        Assert.True(FileIdentity.OfPath(_dir)?.IsDirectory);
        Assert.False(FileIdentity.OfPath(link)?.IsRegularFile);
        Assert.True(FileIdentity.OfPath(link, followLinks: true)?.IsRegularFile);
        Assert.Null(FileIdentity.OfPath(dangling, followLinks: true));
        Assert.False(FileIdentity.OfPath("/dev/null", followLinks: true)?.IsRegularFile);
        Assert.False(FileIdentity.OfPath("/dev/null", followLinks: true)?.IsDirectory);
    }

    [Fact]
    public void Nothing_there_is_null_also_below_a_regular_file()
    {
        string file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "data");

        Assert.Null(FileIdentity.OfPath(Path.Combine(_dir, "absent")));
        Assert.Null(FileIdentity.OfPath(Path.Combine(file, "x")));
    }

    [Fact]
    public void A_file_put_in_the_place_of_another_has_another_identity()
    {
        string path = Path.Combine(_dir, "f");
        File.WriteAllText(path, "one");
        FileIdentity first = FileIdentity.OfPath(path)!.Value;
        string other = Path.Combine(_dir, "g");
        File.WriteAllText(other, "two");
        File.Move(other, path, overwrite: true);

        FileIdentity second = FileIdentity.OfPath(path)!.Value;

        Assert.Equal(first.Device, second.Device);
        Assert.NotEqual(first.Inode, second.Inode);
    }

    [Fact]
    public void A_descriptor_has_the_identity_of_the_file_it_opened()
    {
        string path = Path.Combine(_dir, "f");
        using FileStream stream = File.Create(path);

        FileIdentity? byDescriptor = FileIdentity.OfDescriptor((int)stream.SafeFileHandle.DangerousGetHandle());

        Assert.Equal(FileIdentity.OfPath(path), byDescriptor);
    }

    [Theory]
    [InlineData(0u, 13u, 13ul)]
    [InlineData(8u, 1u, 2049ul)]
    [InlineData(259u, 3u, 66307ul)]
    [InlineData(0x1234u, 0x56789u, 0x0000_1000_5672_3489ul)]
    public void Makedev_packs_major_and_minor_as_glibc_does(uint major, uint minor, ulong expected)
    {
        Assert.Equal(expected, FileIdentity.MakeDev(major, minor));
    }
}
