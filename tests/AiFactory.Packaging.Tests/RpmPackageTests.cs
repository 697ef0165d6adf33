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

    [Fact]
    public void The_rpm_scriptlets_enable_on_install_restart_on_upgrade_and_disable_on_erase()
    {
        string scripts = packages.RpmQuery("--scripts");

        Assert.Contains("systemctl enable --now aifactory-agent.service", scripts, StringComparison.Ordinal);
        Assert.Contains("systemctl try-restart aifactory-agent.service", scripts, StringComparison.Ordinal);
        Assert.Contains("systemctl disable --now aifactory-agent.service", scripts, StringComparison.Ordinal);
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
}
