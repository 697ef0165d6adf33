namespace AiFactory.Host.Model.Memory;

/// <summary>The system-wide pool of one hugepage size: <c>/sys/kernel/mm/hugepages/hugepages-&lt;size&gt;kB</c>.</summary>
/// <param name="PageSizeKiB">The page size in KiB (2048, 1048576, ...).</param>
/// <param name="Total"><c>nr_hugepages</c>.</param>
/// <param name="Free"><c>free_hugepages</c>.</param>
/// <param name="Reserved"><c>resv_hugepages</c>.</param>
/// <param name="Surplus"><c>surplus_hugepages</c>.</param>
public sealed record HugepageSize(long PageSizeKiB, long Total, long Free, long Reserved, long Surplus);
