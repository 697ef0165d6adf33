using System.Globalization;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>
/// Per NUMA node: hugepage pools per page size (total, free, held by leases) and online CPUs by use (reserved
/// for the host by the node profile, dedicated to leases, shared).
/// </summary>
internal sealed class NumaCollector : IMetricsCollector
{
    public string Name => "numa";

    public void Collect(ScrapeContext context, ExpositionWriter writer)
    {
        NodeSnapshot node = context.Node ?? throw new InvalidOperationException("no node snapshot source");
        IReadOnlyList<LeaseSnapshot> leases = context.Leases;
        IReadOnlyList<NumaNode> nodes = node.Topology.NumaNodes;
        var ids = new string[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            ids[i] = nodes[i].Id.ToString(CultureInfo.InvariantCulture);
        }

        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (HugepagePool pool in nodes[i].Hugepages)
            {
                writer.Sample(MetricNames.Numa.HugepagesPages, [ids[i], Size(pool)], pool.Total);
            }
        }

        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (HugepagePool pool in nodes[i].Hugepages)
            {
                writer.Sample(MetricNames.Numa.HugepagesFreePages, [ids[i], Size(pool)], pool.Free);
            }
        }

        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (HugepagePool pool in nodes[i].Hugepages)
            {
                long leased = 0;
                foreach (LeaseSnapshot lease in leases)
                {
                    foreach (LeaseHugepages held in lease.Hugepages)
                    {
                        if (held.NumaNode == nodes[i].Id && held.PageSizeKiB == pool.PageSizeKiB)
                        {
                            leased += held.Pages;
                        }
                    }
                }

                writer.Sample(MetricNames.Numa.HugepagesLeasedPages, [ids[i], Size(pool)], leased);
            }
        }

        CpuSet dedicated = CpuSet.Empty;
        foreach (LeaseSnapshot lease in leases)
        {
            if (lease.DedicatedCpus)
            {
                dedicated = dedicated.Union(lease.Cpus);
            }
        }

        CpuSet online = node.Topology.Cpus.Online;
        for (int i = 0; i < nodes.Count; i++)
        {
            if (!nodes[i].HasCpus)
            {
                continue;
            }

            CpuSet here = nodes[i].Cpus.Intersect(online);
            CpuSet reserved = here.Intersect(node.HostReservedCpus);
            CpuSet leased = here.Intersect(dedicated).Except(reserved);
            writer.Sample(MetricNames.Numa.Cpus, [ids[i], "reserved"], reserved.Count);
            writer.Sample(MetricNames.Numa.Cpus, [ids[i], "dedicated"], leased.Count);
            writer.Sample(MetricNames.Numa.Cpus, [ids[i], "shared"], here.Count - reserved.Count - leased.Count);
        }
    }

    private static string Size(HugepagePool pool) => pool.PageSizeKiB.ToString(CultureInfo.InvariantCulture);
}
