namespace AiFactory.Host.Model.Pci;

/// <summary>
/// A PCI function's AER error counters since boot, by error name ("BadTLP", "DLP", ...), for each of the kernel's
/// three severities. The kernel's <c>TOTAL_ERR_*</c> sums are not kept.
/// </summary>
/// <param name="Correctable">Correctable errors (<c>aer_dev_correctable</c>).</param>
/// <param name="NonFatal">Uncorrectable non-fatal errors (<c>aer_dev_nonfatal</c>).</param>
/// <param name="Fatal">Uncorrectable fatal errors (<c>aer_dev_fatal</c>).</param>
public sealed record AerCounters(
    IReadOnlyList<KeyValuePair<string, long>> Correctable,
    IReadOnlyList<KeyValuePair<string, long>> NonFatal,
    IReadOnlyList<KeyValuePair<string, long>> Fatal);
