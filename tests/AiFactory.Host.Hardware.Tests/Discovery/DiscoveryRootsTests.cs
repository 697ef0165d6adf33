using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

/// <summary>
/// Roots that cannot be a machine (a fixture's folder given as the sysfs root, a missing procfs root) are refused
/// before anything is read, and a tree without CPUs never becomes an invented one-node machine.
/// </summary>
public sealed class DiscoveryRootsTests
{
    private static readonly string Fixture = HardwareFixtures.Root("dgx-h100");

    [Fact]
    public void A_fixtures_sys_and_proc_folders_are_fine()
    {
        Assert.Null(DiscoveryRoots.Problem(new SysfsRoot(Path.Combine(Fixture, "sys")), new ProcfsRoot(Path.Combine(Fixture, "proc"))));
    }

    [Fact]
    public void The_fixtures_folder_itself_as_the_sysfs_root_is_no_sysfs_tree()
    {
        string? problem = DiscoveryRoots.Problem(new SysfsRoot(Fixture), new ProcfsRoot(Path.Combine(Fixture, "proc")));

        Assert.Equal($"sysfs root {Fixture} has no devices/system/cpu/online: not a sysfs tree (a fixture's is its sys/ folder)", problem);
    }

    [Fact]
    public void A_missing_sysfs_or_procfs_root_is_not_a_directory()
    {
        string missing = Path.Combine(Fixture, "nonexistent");

        Assert.Equal($"sysfs root {missing} is not a directory", DiscoveryRoots.Problem(new SysfsRoot(missing), null));
        Assert.Equal($"procfs root {missing} is not a directory", DiscoveryRoots.Problem(new SysfsRoot(Path.Combine(Fixture, "sys")), new ProcfsRoot(missing)));
    }

    [Fact]
    public void A_tree_without_cpus_discovers_no_numa_node_although_procfs_has_memory()
    {
        // The fixture's folder as the sysfs root, as a mistyped --sysfs-root gives: procfs meminfo has 2 TiB, but
        // there is no CPU and no node to put it on.
        HostTopology t = new HostDiscovery(Fixture, Path.Combine(Fixture, "proc")).Discover();

        Assert.Empty(t.Cpus.Cpus);
        Assert.Empty(t.NumaNodes);
        Assert.NotNull(t.MemoryTotalBytes);
    }
}
