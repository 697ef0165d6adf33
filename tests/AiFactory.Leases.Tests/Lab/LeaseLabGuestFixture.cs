using AiFactory.Tests.Shared;

namespace AiFactory.Leases.Tests.Lab;

/// <summary>
/// The kernel-tier guest for leases: one more device, QEMU's <c>ati-vga</c> (an ATI Rage 128 Pro, 1002:5046, display
/// class: a GPU to the agent's discovery, and one the guest's own aty128fb driver binds), and the lease scenario
/// tests/lab/kernel/leases/guest.sh.
/// </summary>
public sealed class LeaseLabGuestFixture() : KernelLabGuest("leases", "lease-guest.log", new Dictionary<string, string>
{
    ["AIFACTORY_LAB_MODULES"] = "aty128fb",
    ["AIFACTORY_LAB_QEMU_EXTRA"] = "-device pcie-root-port,id=rp6,bus=pcie.0,chassis=6,slot=6 -device ati-vga,model=rage128p,bus=rp6",
});
