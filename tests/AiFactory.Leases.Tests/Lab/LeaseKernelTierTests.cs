using Xunit.Abstractions;

namespace AiFactory.Leases.Tests.Lab;

/// <summary>
/// Whole-GPU leases on a real kernel: one guest boot runs the published agent and aifactoryctl against an emulated
/// ATI GPU; each test asserts what the kernel's own sysfs said inside the guest.
/// </summary>
[Trait("Tier", "kernel")]
public sealed class LeaseKernelTierTests(LeaseLabGuestFixture guest, ITestOutputHelper output) : IClassFixture<LeaseLabGuestFixture>
{
    private void AssertChecks(params string[] names) => guest.AssertChecks(output, names);

    [Fact]
    public void The_guest_gpu_starts_on_its_own_driver() => AssertChecks("gpu-found", "gpu-original-driver", "gpu-untouched-by-vfio-load");

    [Fact]
    public void Leasing_the_gpu_binds_it_to_vfio_pci_with_a_viable_group_that_attaches() =>
        AssertChecks("lease-granted", "lease-names-the-gpu", "lease-records-original-driver", "gpu-on-vfio", "gpu-dev-vfio", "gpu-group-viable-and-attaches");

    [Fact]
    public void Releasing_the_lease_gives_the_gpu_back_to_its_driver() =>
        AssertChecks("release-exit", "gpu-driver-restored", "override-cleared", "ledger-says-released");
}
