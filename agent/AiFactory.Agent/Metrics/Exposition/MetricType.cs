namespace AiFactory.Agent.Metrics.Exposition;

/// <summary>The kind of a metric family, as written on its <c># TYPE</c> line.</summary>
internal enum MetricType
{
    /// <summary>A value that goes up and down.</summary>
    Gauge,

    /// <summary>A monotonically increasing total; samples end in <c>_total</c>.</summary>
    Counter,

    /// <summary>
    /// A counter whose name is fixed by another exporter and lacks <c>_total</c> (dcgm-exporter's
    /// DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION and friends). Written as <c>counter</c> in text format 0.0.4, as
    /// dcgm-exporter does, and as <c>unknown</c> in OpenMetrics, whose counters must end in <c>_total</c>.
    /// </summary>
    LegacyCounter,

    /// <summary>A histogram: <c>_bucket{le=...}</c>, <c>_sum</c> and <c>_count</c> samples.</summary>
    Histogram,
}
