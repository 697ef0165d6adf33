using AiFactory.Agent.Leases;
using AiFactory.Agent.Leases.Store;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Leases.Tests.Planning;
using Google.Protobuf;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Ledger;

public sealed class LeaseServiceTests
{
    private const ulong GiB = 1UL << 30;

    private static CreateLeaseRequest Ask(uint gpus = 1, uint vcpus = 4, ulong memoryGiB = 4, string owner = "tenant-a") => new()
    {
        Spec = new LeaseSpec { Owner = owner, GpuCount = gpus, Vcpus = vcpus, MemoryBytes = memoryGiB * GiB },
    };

    [Fact]
    public void A_lease_is_granted_recorded_listed_and_released_with_events()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        using var events = host.Events.Subscribe(replayRecent: false);

        Wire.Lease lease = host.Service.Lease(Ask(gpus: 2, vcpus: 8));

        Assert.StartsWith("lease-", lease.Id, StringComparison.Ordinal);
        Assert.Equal(Wire.LeaseState.Active, lease.State);
        Assert.Equal(2, lease.Devices.Count(d => d.Role == LeasedDeviceRole.Gpu));
        Assert.Equal("nvidia", lease.Devices[0].OriginalDriver);
        Assert.Equal(8, lease.Nodes.Sum(n => n.VcpuCpus.Count));
        Assert.Equal(lease, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }));
        Assert.Single(host.Service.ListLeases(new ListLeasesRequest()).Leases);
        Assert.Equal(["bind " + lease.Id], host.Binder.Calls);

        Wire.Lease released = host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id });

        Assert.Equal(Wire.LeaseState.Released, released.State);
        Assert.Empty(host.Service.ListLeases(new ListLeasesRequest()).Leases);
        Assert.Single(host.Service.ListLeases(new ListLeasesRequest { IncludeEnded = true }).Leases);
        Assert.Equal(["bind " + lease.Id, "unbind " + lease.Id], host.Binder.Calls);
        Assert.True(events.Reader.TryRead(out Event? created));
        Assert.Equal(("lease.created", lease.Id), (created!.Kind, created.Subject));
        Assert.True(events.Reader.TryRead(out Event? ended));
        Assert.Equal("lease.released", ended!.Kind);
    }

    [Fact]
    public async Task Many_parallel_lease_calls_never_hand_out_a_gpu_or_cpu_twice()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        var calls = Enumerable.Range(0, 48).Select(i => Task.Run(() =>
        {
            try
            {
                return host.Service.Lease(Ask(gpus: 1, vcpus: 6, memoryGiB: 8, owner: $"t{i}"));
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
            {
                return null;
            }
        }));

        Wire.Lease?[] results = await Task.WhenAll(calls);

        var granted = results.OfType<Wire.Lease>().ToList();
        Assert.Equal(8, granted.Count);
        var gpus = granted.SelectMany(l => l.Devices).Select(d => d.Address).ToList();
        Assert.Equal(gpus.Count, gpus.Distinct().Count());
        var cpus = granted.SelectMany(l => l.Nodes).SelectMany(n => n.VcpuCpus).ToList();
        Assert.Equal(48, cpus.Count);
        Assert.Equal(cpus.Count, cpus.Distinct().Count());
        using LeaseTestHost restarted = host.Restart();
        Assert.Equal(8, restarted.Service.ListLeases(new ListLeasesRequest()).Leases.Count);
    }

    [Fact]
    public void Leases_survive_a_restart_and_still_hold_their_resources()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        Wire.Lease first = host.Service.Lease(Ask(gpus: 4, vcpus: 100, memoryGiB: 800));

        using LeaseTestHost restarted = host.Restart();
        Wire.Lease again = restarted.Service.GetLease(new GetLeaseRequest { Id = first.Id });
        Wire.Lease second = restarted.Service.Lease(Ask(gpus: 4, vcpus: 100, memoryGiB: 800));

        Assert.Equal(first, again);
        Assert.Empty(first.Devices.Select(d => d.Address).Intersect(second.Devices.Select(d => d.Address)));
        Assert.NotEqual(first.Nodes[0].Node, second.Nodes[0].Node);
        RpcException third = Assert.Throws<RpcException>(() => restarted.Service.Lease(Ask(gpus: 1)));
        Assert.Equal(StatusCode.ResourceExhausted, third.StatusCode);
        Assert.StartsWith("spec.gpu_count: 1 asked, 0 free", third.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_corrupt_ledger_is_set_aside_and_the_agent_starts_empty_refusing_grants_until_acknowledged()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Service.Lease(Ask());
        byte[] bytes = File.ReadAllBytes(host.Ledger.Path);
        bytes[^3] ^= 0x55;
        File.WriteAllBytes(host.Ledger.Path, bytes);

        using LeaseTestHost restarted = host.Restart();

        Assert.Empty(restarted.Service.ListLeases(new ListLeasesRequest { IncludeEnded = true }).Leases);
        Assert.False(File.Exists(restarted.Ledger.Path));
        Assert.NotNull(restarted.Ledger.SetAsidePath);
        Assert.Equal(bytes, File.ReadAllBytes(restarted.Ledger.SetAsidePath!));
        Assert.StartsWith(restarted.Ledger.Path + ".corrupt-", restarted.Ledger.SetAsidePath, StringComparison.Ordinal);
        Assert.Equal(0, LeaseRegistration.Reconcile(restarted.Ledger, restarted.Host, restarted.Events, restarted.Logger));
        Assert.Contains(restarted.Events.Recent(), e => e.Kind == "lease.ledger_set_aside");
        Assert.Equal(StatusCode.FailedPrecondition, Assert.Throws<RpcException>(() => restarted.Service.Lease(Ask())).StatusCode);
        File.Delete(restarted.Ledger.AcknowledgePath); // the operator's acknowledgement
        restarted.Service.Lease(Ask());
        Assert.True(File.Exists(restarted.Ledger.Path));
    }

    [Fact]
    public void The_checkpoint_names_what_is_wrong_with_a_bad_file()
    {
        byte[] good = LeaseCheckpoint.Encode([new Wire.Lease { Id = "lease-1" }]);
        byte[] flipped = [.. good];
        flipped[^1] ^= 1;
        byte[] newer = System.Text.Encoding.ASCII.GetBytes("aifactory-leases v2 sha256=00\n");

        Assert.Equal("lease-1", LeaseCheckpoint.Decode(good).Leases[0].Id);
        Assert.Contains("checksum mismatch", Assert.Throws<InvalidDataException>(() => LeaseCheckpoint.Decode(flipped)).Message, StringComparison.Ordinal);
        Assert.Contains("written by a newer agent", Assert.Throws<InvalidDataException>(() => LeaseCheckpoint.Decode(newer)).Message, StringComparison.Ordinal);
        Assert.Contains("no header line", Assert.Throws<InvalidDataException>(() => LeaseCheckpoint.Decode("garbage"u8)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_checkpoint_body_built_from_stored_records_is_the_message_protobuf_writes()
    {
        Wire.Lease a = new() { Id = "lease-a", Owner = "tenant-1", State = Wire.LeaseState.Active };
        Wire.Lease b = new() { Id = "lease-b", Owner = "tenant-2", State = Wire.LeaseState.Released };
        byte[] expected = new Wire.LeaseLedgerCheckpoint { Version = LeaseCheckpoint.Version, Leases = { a, b } }.ToByteArray();

        byte[] file = LeaseCheckpoint.Encode([a.ToByteString(), b.ToByteString()]);

        Assert.Equal(expected, file[(Array.IndexOf(file, (byte)'\n') + 1)..]);
        Assert.Equal(["lease-a", "lease-b"], LeaseCheckpoint.Decode(file).Leases.Select(l => l.Id));
    }

    [Theory]
    [InlineData("gpu_model", "spec.gpu_model: no GPU matches \"B200\"")]
    [InlineData("gpu_count", "spec.gpu_count: 9 asked, this host has 8")]
    [InlineData("ttl_seconds", "spec.ttl_seconds: -60 is in the past")]
    [InlineData("expires_unix_ms", "spec.expires_unix_ms: ")]
    [InlineData("vcpus", "spec.vcpus: must be at least 1")]
    [InlineData("owner", "spec.owner: is required")]
    [InlineData("memory_bytes", "spec.memory_bytes: ")]
    public void Bad_input_is_invalid_argument_naming_the_field_and_reserves_nothing(string field, string expected)
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        CreateLeaseRequest request = Ask();
        switch (field)
        {
            case "gpu_model": request.Spec.GpuModel = "B200"; break;
            case "gpu_count": request.Spec.GpuCount = 9; break;
            case "ttl_seconds": request.Spec.TtlSeconds = -60; break;
            case "expires_unix_ms": request.Spec.ExpiresUnixMs = host.Time.Now.AddMinutes(-1).ToUnixTimeMilliseconds(); break;
            case "vcpus": request.Spec.Vcpus = 0; break;
            case "owner": request.Spec.Owner = string.Empty; break;
            default: request.Spec.MemoryBytes = 3 * GiB / 2; break;
        }

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.Lease(request));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(expected, ex.Detail, StringComparison.Ordinal);
        Assert.Empty(host.Service.ListLeases(new ListLeasesRequest { IncludeEnded = true }).Leases);
        Assert.Empty(host.Binder.Calls);
        Assert.False(File.Exists(host.Ledger.Path));
    }

    [Fact]
    public void Releasing_an_unknown_lease_is_not_found_naming_the_id()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.Release(new ReleaseLeaseRequest { Id = "lease-000000000000" }));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal("id: no lease \"lease-000000000000\"", ex.Detail);
    }

    [Fact]
    public void A_lease_whose_ttl_ran_out_expires_and_frees_its_gpus()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        CreateLeaseRequest request = Ask(gpus: 8);
        request.Spec.TtlSeconds = 60;
        Wire.Lease lease = host.Service.Lease(request);
        Assert.Equal(host.Time.Now.AddSeconds(60).ToUnixTimeMilliseconds(), lease.ExpiresUnixMs);
        Assert.Throws<RpcException>(() => host.Service.Lease(Ask(gpus: 1)));

        host.Time.Now = host.Time.Now.AddSeconds(61);

        Assert.Equal(Wire.LeaseState.Expired, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        Assert.Single(host.Service.Lease(Ask(gpus: 1)).Devices);
        Assert.Contains("unbind " + lease.Id, host.Binder.Calls);
    }

    [Fact]
    public void When_binding_fails_nothing_stays_reserved()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Binder.Fail = true;

        Assert.Throws<InvalidOperationException>(() => host.Service.Lease(Ask(gpus: 8)));
        host.Binder.Fail = false;

        Assert.Equal(8, host.Service.Lease(Ask(gpus: 8)).Devices.Count);
        using LeaseTestHost restarted = host.Restart();
        Assert.Single(restarted.Service.ListLeases(new ListLeasesRequest { IncludeEnded = true }).Leases);
    }

    [Fact]
    public void A_dry_run_plans_without_reserving()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        CreateLeaseRequest request = Ask(gpus: 8);
        request.DryRun = true;

        Wire.Lease preview = host.Service.Lease(request);

        Assert.Equal(8, preview.Devices.Count);
        Assert.Empty(host.Service.ListLeases(new ListLeasesRequest()).Leases);
        Assert.Equal(8, host.Service.Lease(Ask(gpus: 8)).Devices.Count);
    }

    [Fact]
    public void Reconciliation_reports_a_missing_device_and_a_foreign_driver_without_changing_the_ledger()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        Wire.Lease lease = host.Service.Lease(Ask(gpus: 2));
        PciAddress gone = PciAddress.Parse(lease.Devices[0].Address);
        PciAddress rebound = PciAddress.Parse(lease.Devices[1].Address);
        var changed = Topologies.DgxH100 with
        {
            PciDevices = [.. Topologies.DgxH100.PciDevices.Where(d => d.Address != gone).Select(d => d.Address == rebound ? d with { Driver = "nouveau" } : d)],
        };

        using var later = new LeaseTestHost(changed, CpuSet.Of(lease.Nodes[0].VcpuCpus[0]), host.Directory, host.Time);
        int found = LeaseRegistration.Reconcile(later.Ledger, later.Host, later.Events, later.Logger);

        Assert.Equal(3, found);
        var messages = later.Events.Recent().Where(e => e.Kind == "lease.drift").Select(e => e.Message).ToList();
        Assert.Contains($"device {gone} (Gpu) is not on the host any more", messages);
        Assert.Contains($"device {rebound} is bound to nouveau; the lease expects vfio-pci or its original driver nvidia", messages);
        Assert.Contains(messages, m => m.Contains("now reserved for the host", StringComparison.Ordinal));
        Assert.Equal(lease, later.Service.GetLease(new GetLeaseRequest { Id = lease.Id }));
    }
}
