namespace AiFactory.Profile.Tests.Kernel;

/// <summary>
/// A fake <c>systemctl</c> executable (a shell script) in a temp folder: it keeps each unit's AllowedCPUs and
/// active state in files and logs every call, so the real <see cref="AiFactory.Host.Hardware.Systemd.Systemctl"/>
/// runner is exercised end to end without touching this machine's systemd.
/// </summary>
internal sealed class FakeSystemctl : IDisposable
{
    public FakeSystemctl(params string[] activeUnits)
    {
        Dir = Path.Join(Path.GetTempPath(), "aif-systemctl-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Join(Dir, "state"));
        Executable = Path.Join(Dir, "systemctl");
        File.WriteAllText(Executable, """
            #!/bin/sh
            d=$(dirname "$0")/state
            echo "$*" >> "$d/calls"
            case "$1" in
              show) u="$6"; cat "$d/$u.cpus" 2>/dev/null || echo "" ;;
              set-property) u="$4"; v="${5#AllowedCPUs=}"; echo "$v" > "$d/$u.cpus" ;;
              is-active) u="$4"; [ -e "$d/$u.active" ] ;;
              stop) rm -f "$d/$3.active" ;;
              --no-block) touch "$d/$4.active" ;;
              *) echo "unknown $*" >&2; exit 1 ;;
            esac
            """.Replace("\r", string.Empty, StringComparison.Ordinal));
        File.SetUnixFileMode(Executable, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (string unit in activeUnits)
        {
            File.WriteAllText(Path.Join(Dir, "state", unit + ".active"), string.Empty);
        }
    }

    public string Dir { get; }

    public string Executable { get; }

    public IReadOnlyList<string> Calls => File.Exists(Path.Join(Dir, "state", "calls")) ? File.ReadAllLines(Path.Join(Dir, "state", "calls")) : [];

    public string? AllowedCpus(string unit) => File.Exists(Path.Join(Dir, "state", unit + ".cpus")) ? File.ReadAllText(Path.Join(Dir, "state", unit + ".cpus")).Trim() : null;

    public bool IsActive(string unit) => File.Exists(Path.Join(Dir, "state", unit + ".active"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
