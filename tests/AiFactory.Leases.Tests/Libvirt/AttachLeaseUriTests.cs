using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Libvirt;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>
/// A client's <c>libvirt_uri</c> reaches libvirt only when the agent's <c>libvirt-uris</c> setting lists it: a URI can
/// make libvirt run a program (<c>qemu+ext</c>), reach another host or read a file (<c>test:///&lt;file&gt;</c>), as root.
/// </summary>
public sealed class AttachLeaseUriTests
{
    private const ulong MiB = 1UL << 20;
    private const string Allowed = "allowed: qemu:///system, test:///default; agent setting libvirt-uris";

    private static string DomainXml(string name) =>
        $"<domain type='test'><name>{name}</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices/></domain>";

    private static Wire.Lease Lease(LeaseTestHost host) =>
        host.Service.Lease(new CreateLeaseRequest { Spec = new LeaseSpec { Owner = "vm", GpuCount = 1, Vcpus = 2, MemoryBytes = 512 * MiB, PageSize = LeasePageSize._2M } });

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>libvirt's own binding, remembering every URI it was asked to open.</summary>
    private sealed class OpenRecorder : ILibvirt
    {
        private readonly NativeLibvirt _inner = new();

        public List<string> Opened { get; } = [];

        public ILibvirtConnection Open(string uri)
        {
            lock (Opened)
            {
                Opened.Add(uri);
            }

            return _inner.Open(uri);
        }
    }

    [Fact]
    public void An_ext_transport_uri_is_refused_naming_it_and_the_allowed_list_and_its_command_never_runs()
    {
        string dir = Directory.CreateTempSubdirectory("aifactory-ext-").FullName;
        string marker = Path.Combine(dir, "ran");
        string script = Path.Combine(dir, "ext.sh");
        File.WriteAllText(script, $"#!/bin/sh\nid > {marker}\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var libvirt = new OpenRecorder();
        using var host = new LeaseTestHost(TestDriverHost.Build(), libvirt: libvirt);
        Wire.Lease lease = Lease(host);
        string uri = $"qemu+ext:///system?command={script}";

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(
            new AttachLeaseRequest { Id = lease.Id, DomainXml = DomainXml(Unique("ext")), LibvirtUri = uri, Start = true }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal($"libvirt_uri: \"{uri}\" is not a libvirt URI this agent opens for leases ({Allowed})", ex.Detail);
        Assert.Empty(libvirt.Opened);
        Assert.False(File.Exists(marker), "the ext transport's command ran");
        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void A_test_driver_uri_naming_a_file_is_refused_without_reading_it()
    {
        var libvirt = new OpenRecorder();
        using var host = new LeaseTestHost(TestDriverHost.Build(), libvirt: libvirt);
        Wire.Lease lease = Lease(host);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(
            new AttachLeaseRequest { Id = lease.Id, DomainName = "anything", LibvirtUri = "test:///etc/passwd" }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal($"libvirt_uri: \"test:///etc/passwd\" is not a libvirt URI this agent opens for leases ({Allowed})", ex.Detail);
        Assert.DoesNotContain("root", ex.Detail, StringComparison.Ordinal);
        Assert.Empty(libvirt.Opened);
    }

    [Theory]
    [InlineData("qemu+ssh://root@attacker.example/system")]
    [InlineData("qemu+tcp://10.0.0.1/system")]
    [InlineData("qemu+tls://host.example/system")]
    [InlineData("qemu+libssh2://host.example/system?known_hosts=/dev/null")]
    [InlineData("qemu+unix:///system?socket=/tmp/evil.sock")]
    [InlineData("qemu:///system?no_verify=1")]
    [InlineData("test:///default?x")]
    [InlineData("test:///default#x")]
    [InlineData("TEST:///default")]
    [InlineData("test:///default/")]
    [InlineData("test:///default ")]
    [InlineData("qemu:///session")]
    public void Any_uri_not_listed_is_refused_before_libvirt_is_asked(string uri)
    {
        var libvirt = new OpenRecorder();
        using var host = new LeaseTestHost(TestDriverHost.Build(), libvirt: libvirt);
        Wire.Lease lease = Lease(host);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(
            new AttachLeaseRequest { Id = lease.Id, DomainXml = DomainXml(Unique("remote")), LibvirtUri = uri }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("libvirt_uri: \"", ex.Detail, StringComparison.Ordinal);
        Assert.EndsWith($"is not a libvirt URI this agent opens for leases ({Allowed})", ex.Detail, StringComparison.Ordinal);
        Assert.Empty(libvirt.Opened);
    }

    [Fact]
    public void A_long_uri_with_control_characters_is_echoed_short_and_escaped()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build(), libvirt: new OpenRecorder());
        Wire.Lease lease = Lease(host);
        string uri = "test:///x\n" + new string('a', 100_000);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(new AttachLeaseRequest { Id = lease.Id, DomainName = "x", LibvirtUri = uri }));

        Assert.StartsWith("libvirt_uri: \"test:///x\\u000aaaa", ex.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Detail);
        Assert.True(ex.Detail.Length < 400, ex.Detail);
    }

    [Fact]
    public void An_attach_without_a_uri_uses_the_first_one_listed()
    {
        var libvirt = new OpenRecorder();
        using var host = new LeaseTestHost(TestDriverHost.Build(), libvirt: libvirt, libvirtUris: [TestDriverHost.Uri]);
        Wire.Lease lease = Lease(host);
        string name = Unique("first");

        // The test driver keeps its domains while a connection to it is open.
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);

        AttachLeaseResponse response = host.Service.AttachLease(new AttachLeaseRequest { Id = lease.Id, DomainXml = DomainXml(name) });

        Assert.Equal(TestDriverHost.Uri, response.Lease.LibvirtUri);
        Assert.Equal([TestDriverHost.Uri], libvirt.Opened);
        using ILibvirtDomain domain = connection.Lookup(name)!;
        domain.Undefine();
    }

    [Fact]
    public void A_lease_stored_with_a_uri_no_longer_listed_is_never_reopened_and_needs_force_to_release()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string name = Unique("stored");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        host.Service.AttachLease(new AttachLeaseRequest { Id = lease.Id, DomainXml = DomainXml(name), LibvirtUri = TestDriverHost.Uri });
        var libvirt = new OpenRecorder();
        using LeaseTestHost restarted = host.Restart(libvirt, libvirtUris: [Agent.Leases.LeaseService.DefaultLibvirtUri]);

        RpcException ex = Assert.Throws<RpcException>(() => restarted.Service.Release(new ReleaseLeaseRequest { Id = lease.Id }));
        Wire.Lease released = restarted.Service.Release(new ReleaseLeaseRequest { Id = lease.Id, Force = true });

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal(
            $"id: lease {lease.Id} is attached to domain \"{name}\" and its libvirt_uri \"{TestDriverHost.Uri}\" is not a libvirt URI this agent opens for leases " +
            "(allowed: qemu:///system; agent setting libvirt-uris), so the agent does not ask whether the domain is running; check it, or release with force (aifactoryctl lease release --force)",
            ex.Detail);
        Assert.Equal(Wire.LeaseState.Released, released.State);
        Assert.Empty(libvirt.Opened);
        Assert.Contains(restarted.Events.Recent(), e => e.Kind == "lease.detach_failed" && e.Message.Contains("is not a libvirt URI this agent opens", StringComparison.Ordinal));
        using ILibvirtDomain domain = connection.Lookup(name)!;
        domain.Undefine();
    }
}
