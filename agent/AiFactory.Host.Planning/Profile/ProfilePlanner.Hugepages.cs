using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Host.Planning.Profile;

/// <summary>
/// The <c>hugepages</c> section: per node and page size, the pool's <c>nr_hugepages</c>. Pools that shrink go first,
/// then the pools that grow, in the profile's order, each checked against the node's memory as it will be at that
/// step: the node's hugepages may not pass its MemTotal less a host margin (<see cref="HostMarginBytes"/>).
/// </summary>
public static partial class ProfilePlanner
{
    /// <summary>
    /// What a node's hugepages must leave to the host: the larger of 5% of its MemTotal and 1 GiB, but at most 10%
    /// (a small node, a lab guest, keeps 10%).
    /// </summary>
    public static long HostMarginBytes(long memTotalBytes) =>
        Math.Max(memTotalBytes / 20, Math.Min(1L << 30, memTotalBytes / 10));

    private sealed partial class Context
    {
        public void PlanHugepages()
        {
            var seen = new HashSet<(int, long)>();
            var accepted = new List<(int Index, HugepageProfile Entry, NumaNode Node, HugepagePool Pool)>();
            for (int i = 0; i < profile.Hugepages.Count; i++)
            {
                HugepageProfile entry = profile.Hugepages[i];
                string field = $"hugepages[{i}]";
                NumaNode? node = topology.NumaNodes.FirstOrDefault(n => n.Id == entry.Node);
                if (node is null)
                {
                    Error(field + ".node", $"no NUMA node {entry.Node} (nodes: {string.Join(",", topology.NumaNodes.Select(n => n.Id))})");
                    continue;
                }

                if (!seen.Add((entry.Node, entry.PageSizeKiB)))
                {
                    Error(field, $"node {entry.Node} size {entry.PageSizeKiB}kB is listed twice");
                    continue;
                }

                HugepagePool? pool = node.Hugepages.FirstOrDefault(p => p.PageSizeKiB == entry.PageSizeKiB);
                if (pool is null)
                {
                    Error(field + ".size", $"node {entry.Node} has no {entry.PageSizeKiB}kB hugepage pool (has: {string.Join(", ", node.Hugepages.Select(p => p.PageSizeKiB + "kB"))})");
                    continue;
                }

                if (entry.Count < 0)
                {
                    Error(field + ".count", $"{entry.Count} is negative");
                    continue;
                }

                if (UnreadablePool(entry.Node, entry.PageSizeKiB) is { } unreadable)
                {
                    Error(field + ".count", $"node {entry.Node}'s {entry.PageSizeKiB}kB pool: {unreadable}, so its size now is unknown and no change is planned from it");
                    continue;
                }

                if (node.MemoryTotalBytes is not > 0)
                {
                    string why = UnreadableMeminfo(entry.Node) is { } u ? u.ToString() : "its MemTotal is unknown";
                    Error(field + ".count", $"node {entry.Node}'s memory is unknown ({why}): {entry.Count} x {entry.PageSizeKiB}kB pages cannot be checked against it");
                    continue;
                }

                accepted.Add((i, entry, node, pool));
            }

            // The pools as they will be, step by step: shrinking ones first (they give memory back), then growing ones
            // in the profile's order, each checked against what the node's other pools hold at that step.
            var sizes = new Dictionary<(int Node, long SizeKiB), long>();
            foreach ((_, _, NumaNode node, _) in accepted)
            {
                foreach (HugepagePool p in node.Hugepages)
                {
                    sizes.TryAdd((node.Id, p.PageSizeKiB), p.Total);
                }
            }

            var grows = new List<ProfileStep>();
            foreach ((int i, HugepageProfile entry, NumaNode node, HugepagePool pool) in accepted)
            {
                string field = $"hugepages[{i}].count";
                if (entry.Count == pool.Total)
                {
                    continue;
                }

                if (entry.Count < pool.Total && LeaseBlocksShrink(entry.Node, entry.PageSizeKiB, entry.Count) is { } held)
                {
                    Error(field, held);
                    continue;
                }

                if (entry.Count < pool.Total)
                {
                    sizes[(node.Id, pool.PageSizeKiB)] = entry.Count;
                    _hugepages.Add(new SetHugepagesStep(entry.Node, entry.PageSizeKiB, pool.Total, entry.Count) { Field = field });
                }
            }

            foreach ((int i, HugepageProfile entry, NumaNode node, HugepagePool pool) in accepted)
            {
                string field = $"hugepages[{i}].count";
                if (entry.Count <= pool.Total)
                {
                    continue;
                }

                long pageBytes = entry.PageSizeKiB * 1024;
                long memTotal = node.MemoryTotalBytes ?? 0; // known: refused above when not
                long margin = HostMarginBytes(memTotal);
                long others = 0;
                foreach (HugepagePool p in node.Hugepages)
                {
                    if (p.PageSizeKiB != entry.PageSizeKiB)
                    {
                        others = SaturatingAdd(others, SaturatingBytes(sizes[(node.Id, p.PageSizeKiB)], p.PageSizeKiB * 1024));
                    }
                }

                long room = Math.Max(0, memTotal - margin - others);
                long most = room / pageBytes;
                if (entry.Count > most)
                {
                    // Checked by division first: count x page size is never computed where it could overflow.
                    string asked = entry.Count <= long.MaxValue / pageBytes ? Gib(entry.Count * pageBytes) : "more than 8 EiB";
                    Error(field, $"{entry.Count} x {entry.PageSizeKiB}kB pages ({asked}) exceed node {entry.Node}'s memory for hugepages: MemTotal {Gib(memTotal)}, " +
                        $"less {Gib(margin)} kept for the host (the larger of 5% and 1 GiB, at most 10%), less {Gib(others)} in its other pools, leaves {Gib(room)}: at most {most} pages");
                    continue;
                }

                sizes[(node.Id, pool.PageSizeKiB)] = entry.Count;
                grows.Add(new SetHugepagesStep(entry.Node, entry.PageSizeKiB, pool.Total, entry.Count) { Field = field });
            }

            _hugepages.AddRange(grows);
        }

        private static long SaturatingBytes(long count, long pageBytes) => count <= 0 ? 0 : count > long.MaxValue / pageBytes ? long.MaxValue : count * pageBytes;

        private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
    }
}
