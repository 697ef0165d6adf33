namespace AiFactory.Agent.Metrics.Exposition;

/// <summary>A histogram's state at one moment: cumulative counts per upper bound, the sum and the count.</summary>
/// <param name="UpperBounds">The finite bucket bounds, ascending (the +Inf bucket is implied).</param>
/// <param name="CumulativeCounts">Observations ≤ each bound, same length as <paramref name="UpperBounds"/>.</param>
/// <param name="Sum">The sum of all observations.</param>
/// <param name="Count">The number of observations (the +Inf bucket).</param>
internal readonly record struct HistogramSnapshot(double[] UpperBounds, long[] CumulativeCounts, double Sum, long Count);
