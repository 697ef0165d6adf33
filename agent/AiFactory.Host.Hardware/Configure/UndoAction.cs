namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// One inverse action in the journal, written before the step it undoes. Every action restores a value (it does
/// not "reverse a delta"), so running it twice, or for a step that never ran, is harmless.
/// </summary>
/// <param name="Op"><c>restore-driver</c> (Address, Driver, DriverOverride), <c>write</c> (Path, Value, relative to sysfs),
/// <c>numvfs</c> (Address, Value), <c>allowed-cpus</c> (Unit, Value), <c>start-service</c> (Unit),
/// <c>override</c> (Address, Value: the persisted driver, null for none),
/// <c>mig-mode</c> (Address, Value 1/0), <c>mig-create</c> / <c>mig-destroy</c> (Address, Value PROFILE@START:SIZE;
/// for <c>mig-create</c> also Compute).</param>
/// <param name="Compute">For <c>mig-create</c>: the compute instances the destroyed GPU instance held, recreated exactly
/// (<see cref="AiFactory.Host.Model.Gpu.MigComputeLayout"/>: <c>CIPROFILEID@START:SIZE</c> items joined by commas; empty:
/// none). Absent in a version 1 journal, which recreated one full-size compute instance.</param>
public sealed record UndoAction(string Op, string? Address = null, string? Driver = null, string? DriverOverride = null, string? Path = null, string? Value = null, string? Unit = null, string? Compute = null)
{
    /// <summary>One line for logs and reports.</summary>
    public override string ToString() => Op switch
    {
        "restore-driver" => $"restore {Address} to {Driver ?? "no driver"} (override {DriverOverride ?? "none"})",
        "write" => $"write {Value} to {Path}",
        "numvfs" => $"set {Address} sriov_numvfs back to {Value}",
        "allowed-cpus" => $"set {Unit} AllowedCPUs back to \"{Value}\"",
        "start-service" => $"start {Unit}",
        "override" => Value is null ? $"remove the boot-time override of {Address}" : $"persist {Address} -> {Value} for boot again",
        "mig-mode" => $"set {Address} MIG mode back to {(Value == "1" ? "enabled" : "disabled")}",
        "mig-create" => Compute is null ? $"create MIG instance {Value} on {Address} again" : $"create MIG instance {Value} on {Address} again with compute instances [{Compute}]",
        "mig-destroy" => $"destroy MIG instance {Value} on {Address}",
        _ => Op,
    };
}
