namespace AiFactory.Host.Hardware.Systemd;

/// <summary>The systemctl calls the profile makes. The real one runs the <c>systemctl</c> executable; tests put a fake one on PATH.</summary>
public interface ISystemctl
{
    /// <summary><c>systemctl show -p AllowedCPUs --value UNIT</c>; empty when unconfined.</summary>
    string GetAllowedCpus(string unit);

    /// <summary><c>systemctl set-property --runtime UNIT AllowedCPUs=VALUE</c> (empty value: unconfined).</summary>
    void SetAllowedCpus(string unit, string value);

    /// <summary><c>systemctl is-active UNIT</c> exits 0.</summary>
    bool IsActive(string unit);

    /// <summary><c>systemctl stop UNIT</c> (waits: the device must be free before it changes).</summary>
    void Stop(string unit);

    /// <summary><c>systemctl --no-block start UNIT</c> (does not wait: the unit may order itself after this agent).</summary>
    void Start(string unit);
}
