using AiFactory.Tests.Shared;

namespace AiFactory.Profile.Tests.Lab;

/// <summary>
/// The kernel-tier guest for the node profile: the lab's emulated IOMMU, SR-IOV NVMe, a shared IOMMU group and two
/// NUMA nodes, and the profile scenario tests/lab/kernel/guest/guest.sh.
/// </summary>
public sealed class LabGuestFixture() : KernelLabGuest("guest", "profile-guest.log", new Dictionary<string, string>());
