using AiFactory.Agent.Metrics.Exposition;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>
/// One collector: a named group of metric families written in one <see cref="Collect"/> call. Throwing marks it
/// failed for this scrape (<c>aifactory_scrape_collector_success{collector=Name} 0</c>) and drops its partial output.
/// </summary>
internal interface IMetricsCollector
{
    /// <summary>The <c>collector</c> label: gpu, pci, numa, leases, agent.</summary>
    string Name { get; }

    void Collect(ScrapeContext context, ExpositionWriter writer);
}
