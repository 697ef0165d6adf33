namespace AiFactory.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed class RpmPackageTests(BuiltPackages packages)
{
    [Fact]
    public void The_rpm_ships_the_same_files_as_the_deb()
    {
        string[] rpmFiles = packages.RpmQuery("--list").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Debian 12 keeps units and udev rules under /lib; the rpm puts them under /usr/lib.
        string[] debFiles = Directory.EnumerateFileSystemEntries(packages.DebRoot, "*", SearchOption.AllDirectories)
            .Where(p => !Directory.Exists(p) || new FileInfo(p).LinkTarget is not null)
            .Select(p => "/" + Path.GetRelativePath(packages.DebRoot, p))
            .Where(p => !p.StartsWith("/usr/share/doc/", StringComparison.Ordinal) && !p.StartsWith("/usr/share/lintian/", StringComparison.Ordinal))
            .Select(p => p.StartsWith("/lib/", StringComparison.Ordinal) ? "/usr" + p : p)
            .ToArray();

        string[] notInRpm = debFiles.Except(rpmFiles).ToArray();

        Assert.Empty(notInRpm);
        Assert.Contains("/usr/share/licenses/aifactory-agent/LICENSE", rpmFiles);
        Assert.Contains("/usr/share/doc/aifactory-agent/CHANGELOG.md", packages.RpmQuery("--docfiles").Split('\n'));
        Assert.DoesNotContain(rpmFiles, f => f.StartsWith("/usr/lib/debug", StringComparison.Ordinal));
    }

    [Fact]
    public void The_rpm_marks_the_configuration_noreplace()
    {
        // --dump: path size mtime digest mode owner group isconfig isdoc rdev symlink
        string[] config = packages.RpmQuery("--dump").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).Where(f => f[7] == "1").Select(f => f[0]).ToArray();
        string flags = packages.RpmQuery("--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]");

        Assert.Equal(["/etc/aifactory/agent.yaml", "/etc/aifactory/node-profile.example.yaml"], config);
        Assert.Contains("/etc/aifactory/agent.yaml cn", flags, StringComparison.Ordinal);
    }

    [Fact]
    public void The_rpm_needs_no_dotnet_runtime_and_only_recommends_libvirt()
    {
        string requires = packages.RpmQuery("--requires");
        string recommends = packages.RpmQuery("--recommends");

        Assert.DoesNotContain("dotnet", requires, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("libvirt", requires, StringComparison.Ordinal);
        Assert.Contains("libc.so.6", requires, StringComparison.Ordinal);
        Assert.Contains("libvirt-libs", recommends, StringComparison.Ordinal);
    }

    [Fact]
    public void The_rpm_binaries_are_byte_for_byte_the_debs_because_rpmbuild_neither_strips_nor_splits_them()
    {
        string[] dump = packages.RpmQuery("--dump").Split('\n', StringSplitOptions.RemoveEmptyEntries);

        foreach (string binary in new[] { "aifactory-agent", "aifactoryctl" })
        {
            string path = "/usr/lib/aifactory-agent/" + binary;
            string rpmDigest = dump.Select(l => l.Split(' ')).Single(f => f[0] == path)[3];
            string debDigest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(packages.DebFile(path))));
            Assert.Equal(debDigest, rpmDigest);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_first_install_enables_the_agent_even_offline_and_starts_it_only_on_a_booted_system(bool booted)
    {
        string[] calls = RunScriptlet("POSTIN", "1", booted);

        Assert.Contains("systemctl --no-reload enable aifactory-agent.service", calls);
        Assert.Contains("modprobe -q vfio-pci", calls);
        Assert.Equal(booted, calls.Contains("systemctl start aifactory-agent.service"));
        Assert.True(Array.IndexOf(calls, "modprobe -q vfio-pci") < Array.IndexOf(calls, "systemctl --no-reload enable aifactory-agent.service"));
    }

    [Fact]
    public void An_upgrade_neither_enables_nor_disables_and_restarts_a_running_agent()
    {
        Assert.DoesNotContain(RunScriptlet("POSTIN", "2", booted: true), c => c.Contains("enable", StringComparison.Ordinal) || c.Contains(" start ", StringComparison.Ordinal));
        Assert.Empty(RunScriptlet("PREUN", "1", booted: true));
        Assert.Contains("systemctl try-restart aifactory-agent.service", RunScriptlet("POSTUN", "1", booted: true));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_erase_disables_the_agent_even_offline_and_stops_it_only_on_a_booted_system(bool booted)
    {
        string[] calls = RunScriptlet("PREUN", "0", booted);

        Assert.Contains("systemctl --no-reload disable aifactory-agent.service", calls);
        Assert.Equal(booted, calls.Contains("systemctl stop aifactory-agent.service"));
        Assert.DoesNotContain(RunScriptlet("POSTUN", "0", booted), c => c.Contains("try-restart", StringComparison.Ordinal));
    }

    [Fact]
    public void Rpmlint_reports_no_error_or_warning()
    {
        ToolResult rpmlint = Tool.Run("rpmlint", "-c", Repository.PathOf("packaging/rpm/rpmlint.toml"), packages.Rpm);

        Assert.True(rpmlint.ExitCode == 0, rpmlint.Output);
        Assert.Contains("0 errors, 0 warnings", rpmlint.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_rpm_has_the_version_of_the_version_file()
    {
        Assert.Equal($"{packages.Version}-1 x86_64", packages.RpmQuery("--qf", "%{VERSION}-%{RELEASE} %{ARCH}").Trim());
    }

    /// <summary>
    /// Runs one of the rpm's scriptlets (POSTIN, PREUN, POSTUN) with rpm's argument (the number of installed
    /// versions after the transaction) and returns the commands it ran. systemctl, udevadm and modprobe are stubs
    /// that only record their arguments, and the scriptlet's test for a booted systemd (/run/systemd/system) is
    /// pointed at a folder of the test's that exists or not: nothing on this machine is touched.
    /// </summary>
    private string[] RunScriptlet(string tag, string argument, bool booted)
    {
        string dir = Directory.CreateTempSubdirectory("scriptlet-").FullName;
        try
        {
            string bin = Path.Combine(dir, "bin");
            string log = Path.Combine(dir, "calls.log");
            Directory.CreateDirectory(bin);
            foreach (string command in new[] { "systemctl", "udevadm", "modprobe" })
            {
                string stub = Path.Combine(bin, command);
                File.WriteAllText(stub, $"#!/bin/sh\necho \"{command} $*\" >> '{log}'\n");
                File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            string systemdRunning = Path.Combine(dir, "run-systemd-system");
            if (booted)
            {
                Directory.CreateDirectory(systemdRunning);
            }

            string script = packages.RpmQuery("--qf", "%{" + tag + "}");
            Assert.Contains("/run/systemd/system", script, StringComparison.Ordinal);
            Tool.Run("/bin/sh", ["-c", script.Replace("/run/systemd/system", systemdRunning, StringComparison.Ordinal), tag, argument], environment: new Dictionary<string, string> { ["PATH"] = bin })
                .EnsureSuccess();
            return File.Exists(log) ? File.ReadAllLines(log) : [];
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
