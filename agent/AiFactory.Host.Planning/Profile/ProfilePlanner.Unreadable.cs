using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Host.Planning.Profile;

/// <summary>
/// Current values the hardware layer could not read (<see cref="ProfileCurrentState.Unreadable"/>): an entry that
/// depends on one is refused naming the file, never planned from a 0 that was not read (its rollback would write that
/// 0 back); entries that do not depend on one still plan.
/// </summary>
public static partial class ProfilePlanner
{
    private sealed partial class Context
    {
        /// <summary>The first value of <paramref name="device"/>'s state that could not be read, or null.</summary>
        private UnreadableValue? UnreadableDevice(PciAddress device)
        {
            foreach (UnreadableValue u in current.Unreadable)
            {
                if (u.Device == device)
                {
                    return u;
                }
            }

            return null;
        }

        /// <summary>The node's pool of <paramref name="pageSizeKiB"/> pages, when its <c>nr_hugepages</c> could not be read.</summary>
        private UnreadableValue? UnreadablePool(int node, long pageSizeKiB) =>
            current.Unreadable.FirstOrDefault(u => u.Node == node && u.PageSizeKiB == pageSizeKiB);

        /// <summary>The node's meminfo, when it could not be read.</summary>
        private UnreadableValue? UnreadableMeminfo(int node) =>
            current.Unreadable.FirstOrDefault(u => u.Node == node && u.PageSizeKiB is null);

        /// <summary>The unit's AllowedCPUs=, when systemd's answer could not be parsed.</summary>
        private UnreadableValue? UnreadableUnit(string unit) =>
            current.Unreadable.FirstOrDefault(u => string.Equals(u.Unit, unit, StringComparison.Ordinal));
    }
}
