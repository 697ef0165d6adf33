using System.Globalization;
using System.Text.RegularExpressions;

namespace AiFactory.Packaging.Tests;

/// <summary>The shared unit file, read as systemd reads it, and scored by systemd-analyze.</summary>
public sealed partial class UnitFileTests
{
    private static readonly string UnitPath = Repository.PathOf("packaging/common/aifactory-agent.service");
    private static readonly string[] Lines = File.ReadAllLines(UnitPath);

    private static string[] Values(string key) =>
        Lines.Where(l => l.StartsWith(key + "=", StringComparison.Ordinal)).Select(l => l[(key.Length + 1)..]).ToArray();

    private static string Value(string key) => Assert.Single(Values(key));

    [Fact]
    public void The_service_is_notify_type_with_a_watchdog_and_bounded_restarts()
    {
        Assert.Equal("notify", Value("Type"));
        Assert.Equal("main", Value("NotifyAccess"));
        Assert.Equal("30s", Value("WatchdogSec"));
        Assert.Equal("on-failure", Value("Restart"));
        Assert.Equal("5", Value("StartLimitBurst"));
        Assert.Equal("300", Value("StartLimitIntervalSec"));
        Assert.Equal("78", Value("RestartPreventExitStatus"));
    }

    [Fact]
    public void The_service_starts_after_modules_and_nvidia_services_and_before_libvirt_and_its_ready_target()
    {
        string after = string.Join(' ', Values("After"));
        string before = string.Join(' ', Values("Before"));

        Assert.Contains("systemd-modules-load.service", after, StringComparison.Ordinal);
        Assert.Contains("nvidia-persistenced.service", after, StringComparison.Ordinal);
        Assert.Contains("nvidia-fabricmanager.service", after, StringComparison.Ordinal);
        Assert.Contains("libvirtd.service", before, StringComparison.Ordinal);
        Assert.Contains("aifactory-ready.target", before, StringComparison.Ordinal);
        // Optional services: ordering only, never a requirement that would fail the agent where they are absent.
        Assert.DoesNotContain(Lines, l => (l.StartsWith("Requires=", StringComparison.Ordinal) || l.StartsWith("Wants=", StringComparison.Ordinal)) && l.Contains("nvidia", StringComparison.Ordinal));
    }

    [Fact]
    public void The_sandbox_is_strict_where_the_agent_allows_it()
    {
        Assert.Equal("strict", Value("ProtectSystem"));
        // The state and runtime directories are systemd's to make at each start: a deleted /var/lib/aifactory
        // cannot fail the unit with 226/NAMESPACE, as a ReadWritePaths= entry without '-' would.
        Assert.Equal("-/etc/aifactory/vfio-overrides.d", Value("ReadWritePaths"));
        Assert.Equal("aifactory", Value("StateDirectory"));
        Assert.Equal("0750", Value("StateDirectoryMode"));
        Assert.Equal("aifactory", Value("RuntimeDirectory"));
        Assert.Equal("0750", Value("RuntimeDirectoryMode"));
        Assert.Equal("CAP_SYS_ADMIN", Value("CapabilityBoundingSet"));
        Assert.Equal("AF_UNIX AF_INET AF_INET6 AF_NETLINK", Value("RestrictAddressFamilies"));
        Assert.Contains("@system-service", Values("SystemCallFilter"));
        foreach (string key in new[] { "ProtectHome", "PrivateTmp", "NoNewPrivileges", "ProtectKernelModules", "ProtectControlGroups", "MemoryDenyWriteExecute", "RestrictNamespaces" })
        {
            Assert.Equal("yes", Value(key));
        }
    }

    [Fact]
    public void The_mig_capability_nodes_are_made_outside_the_sandbox_and_their_class_is_allowed()
    {
        // NVML would make /dev/nvidia-caps/* itself, with CAP_MKNOD, which the daemon does not keep.
        Assert.Contains(
            "+-/usr/bin/nvidia-modprobe -f /proc/driver/nvidia/capabilities/mig/config -f /proc/driver/nvidia/capabilities/mig/monitor",
            Values("ExecStartPre"));
        Assert.DoesNotContain("CAP_MKNOD", Value("CapabilityBoundingSet"), StringComparison.Ordinal);
        Assert.Contains("char-nvidia-caps rw", Values("DeviceAllow"));
        Assert.Equal("closed", Value("DevicePolicy"));
    }

    [Fact]
    public void Every_relaxed_setting_has_its_reason_in_a_comment_above_it()
    {
        // A relaxation: a protection turned off, left at its default on purpose, or a device class allowed.
        for (int i = 0; i < Lines.Length; i++)
        {
            if (RelaxedSetting().IsMatch(Lines[i]))
            {
                int j = i - 1;
                while (j >= 0 && !Lines[j].StartsWith('#') && Lines[j].Length > 0 && RelaxedSetting().IsMatch(Lines[j]))
                {
                    j--;
                }

                Assert.True(j >= 0 && Lines[j].StartsWith('#'), $"line {i + 1} `{Lines[i]}` has no comment giving its reason");
            }
        }

        foreach (string word in new[] { "ProtectKernelTunables", "PrivateDevices", "PrivateNetwork", "PrivateUsers", "ProtectProc" })
        {
            Assert.Contains(Lines, l => l.StartsWith("# Relaxed: " + word, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Systemd_analyze_rates_the_exposure_of_the_unit_below_three()
    {
        ToolResult security = Tool.Run("systemd-analyze", "security", "--offline=true", "--no-pager", UnitPath);
        Match overall = ExposureLine().Match(security.Stdout);

        Assert.True(overall.Success, security.Output);
        double exposure = double.Parse(overall.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(exposure, 0.0, 3.0);
    }

    [Fact]
    public void The_ready_target_is_reached_only_through_the_service()
    {
        string[] target = File.ReadAllLines(Repository.PathOf("packaging/common/aifactory-ready.target"));

        Assert.Contains("Requires=aifactory-agent.service", target);
        Assert.Contains("After=aifactory-agent.service", target);
        Assert.Contains("aifactory-ready.target", Value("Wants"), StringComparison.Ordinal);
    }

    [Fact]
    public void The_udev_rule_reads_overrides_from_the_directory_the_unit_lets_the_agent_write()
    {
        string rule = File.ReadAllText(Repository.PathOf("packaging/common/61-aifactory-vfio-overrides.rules"));

        Assert.Contains("TEST==\"/etc/aifactory/vfio-overrides.d/$kernel\"", rule, StringComparison.Ordinal);
        Assert.Contains("ATTR{driver_override}=\"%c\"", rule, StringComparison.Ordinal);
        Assert.Contains("/etc/aifactory/vfio-overrides.d", Value("ReadWritePaths"), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^(Protect\w+=(no|default)|Private\w+=no|DevicePolicy=|DeviceAllow=|ReadWritePaths=|ExecStartPre=\+)")]
    private static partial Regex RelaxedSetting();

    [GeneratedRegex(@"Overall exposure level for aifactory-agent\.service: ([0-9.]+)")]
    private static partial Regex ExposureLine();
}
