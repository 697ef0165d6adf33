namespace AiFactory.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed class DebPackageTests(BuiltPackages packages)
{
    private static readonly string[] ShippedFiles =
    [
        "usr/lib/aifactory-agent/aifactory-agent",
        "usr/lib/aifactory-agent/aifactoryctl",
        "usr/sbin/aifactory-agent",
        "usr/bin/aifactoryctl",
        "lib/systemd/system/aifactory-agent.service",
        "lib/systemd/system/aifactory-ready.target",
        "lib/udev/rules.d/61-aifactory-vfio-overrides.rules",
        "usr/lib/modules-load.d/aifactory-vfio.conf",
        "etc/aifactory/agent.yaml",
        "etc/aifactory/node-profile.example.yaml",
        "usr/share/man/man8/aifactory-agent.8.gz",
        "usr/share/man/man1/aifactoryctl.1.gz",
        "usr/share/bash-completion/completions/aifactoryctl",
        "usr/share/doc/aifactory-agent/copyright",
        "usr/share/doc/aifactory-agent/changelog.gz",
        "usr/share/doc/aifactory-agent/CHANGELOG.md.gz",
    ];

    [Fact]
    public void The_deb_ships_the_binaries_unit_configuration_and_system_integration_files()
    {
        string[] missing = ShippedFiles.Where(f => !File.Exists(packages.DebFile(f))).ToArray();

        Assert.Empty(missing);
        Assert.True(Directory.Exists(packages.DebFile("etc/aifactory/vfio-overrides.d")));
        Assert.Equal("../lib/aifactory-agent/aifactory-agent", new FileInfo(packages.DebFile("usr/sbin/aifactory-agent")).LinkTarget);
        Assert.Equal("vfio-pci", File.ReadAllLines(packages.DebFile("usr/lib/modules-load.d/aifactory-vfio.conf")).Single(l => !l.StartsWith('#')));
    }

    [Fact]
    public void The_deb_ships_the_projects_changelog()
    {
        using var gz = new System.IO.Compression.GZipStream(File.OpenRead(packages.DebFile("usr/share/doc/aifactory-agent/CHANGELOG.md.gz")), System.IO.Compression.CompressionMode.Decompress);
        using var reader = new StreamReader(gz);

        Assert.Equal(File.ReadAllText(Repository.PathOf("CHANGELOG.md")), reader.ReadToEnd());
    }

    [Fact]
    public void The_unit_in_the_deb_is_the_one_shared_unit_file()
    {
        Assert.Equal(
            File.ReadAllText(Repository.PathOf("packaging/common/aifactory-agent.service")),
            File.ReadAllText(packages.DebFile("lib/systemd/system/aifactory-agent.service")));
    }

    [Fact]
    public void Every_file_is_owned_by_root_with_standard_modes()
    {
        string listing = Tool.Run("dpkg-deb", "-c", packages.Deb).EnsureSuccess().Stdout;
        string[] lines = listing.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.All(lines, l => Assert.Contains(" root/root ", l, StringComparison.Ordinal));
        Assert.All(lines.Where(l => l.StartsWith('-')), l => Assert.Matches("^-rw(-r--r--|xr-xr-x) ", l));
        Assert.All(lines.Where(l => l.StartsWith('d')), l => Assert.StartsWith("drwxr-xr-x ", l, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("-rwxr-xr-x", StringComparison.Ordinal) && l.EndsWith("./usr/lib/aifactory-agent/aifactory-agent", StringComparison.Ordinal));
    }

    [Fact]
    public void The_configuration_files_are_conffiles_so_upgrades_keep_edits()
    {
        string[] conffiles = packages.ControlFile("conffiles").Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(["/etc/aifactory/agent.yaml", "/etc/aifactory/node-profile.example.yaml"], conffiles);
    }

    [Fact]
    public void The_deb_needs_no_dotnet_runtime_and_only_recommends_libvirt()
    {
        string depends = packages.ControlField("Depends");
        string recommends = packages.ControlField("Recommends");

        Assert.Matches(@"^libc6 \(>= 2\.\d+\)$", depends);
        Assert.DoesNotContain("dotnet", packages.ControlFile("control"), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("libvirt0", recommends, StringComparison.Ordinal);
        Assert.DoesNotContain("libvirt", depends, StringComparison.Ordinal);
        Assert.Equal(packages.Version, packages.ControlField("Version"));
        Assert.Equal("amd64", packages.ControlField("Architecture"));
    }

    [Fact]
    public void The_packaged_binaries_have_no_runpath()
    {
        foreach (string binary in new[] { "aifactory-agent", "aifactoryctl" })
        {
            string dynamic = Tool.Run("readelf", "-d", packages.DebFile("usr/lib/aifactory-agent/" + binary)).EnsureSuccess().Stdout;

            Assert.Contains("(NEEDED)", dynamic, StringComparison.Ordinal);
            Assert.DoesNotContain("RUNPATH", dynamic, StringComparison.Ordinal);
            Assert.DoesNotContain("(RPATH)", dynamic, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_packaged_binaries_still_run_after_the_runpath_is_removed()
    {
        ToolResult version = Tool.Run(packages.DebFile("usr/lib/aifactory-agent/aifactoryctl"), "--version");

        Assert.Equal(0, version.ExitCode);
        Assert.StartsWith(packages.Version, version.Stdout.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void Maintainer_scripts_are_valid_shell_that_starts_on_install_and_purges_state()
    {
        foreach (string script in new[] { "postinst", "prerm", "postrm" })
        {
            string path = Path.Combine(packages.DebControl, script);
            Assert.Equal(0, Tool.Run("sh", "-n", path).ExitCode);
            Assert.True((File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0, script + " is not executable");
        }

        Assert.Contains("deb-systemd-invoke \"$action\" 'aifactory-agent.service'", packages.ControlFile("postinst"), StringComparison.Ordinal);
        Assert.Contains("[ \"$1\" = remove ]", packages.ControlFile("prerm"), StringComparison.Ordinal);
        string purge = packages.ControlFile("postrm")[packages.ControlFile("postrm").IndexOf("if [ \"$1\" = purge ]; then", StringComparison.Ordinal)..];
        Assert.Contains("rm -rf /var/lib/aifactory", purge, StringComparison.Ordinal);
    }

    [Fact]
    public void The_postinst_loads_vfio_pci_before_it_starts_the_service()
    {
        string postinst = packages.ControlFile("postinst");
        int modprobe = postinst.IndexOf("modprobe -q vfio-pci >/dev/null 2>&1 || true", StringComparison.Ordinal);

        Assert.True(modprobe >= 0, "postinst does not load vfio-pci (or not without failing in a chroot)");
        Assert.True(modprobe < postinst.IndexOf("deb-systemd-invoke \"$action\"", StringComparison.Ordinal), "vfio-pci is loaded after the start");
    }

    [Fact]
    public void The_md5sums_cover_every_shipped_file()
    {
        string[] sums = packages.ControlFile("md5sums").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] regular = Directory.EnumerateFiles(packages.DebRoot, "*", SearchOption.AllDirectories)
            .Where(f => new FileInfo(f).LinkTarget is null)
            .Select(f => Path.GetRelativePath(packages.DebRoot, f)).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(regular, sums.Select(l => l[34..]).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Lintian_reports_no_error_or_warning()
    {
        ToolResult lintian = Tool.Run("lintian", "--fail-on", "error,warning", packages.Deb);

        Assert.True(lintian.ExitCode == 0, lintian.Output);
        Assert.DoesNotMatch("(?m)^[EW]: ", lintian.Stdout);
    }

    [Fact]
    public void Every_lintian_override_gives_its_reason()
    {
        string[] lines = File.ReadAllLines(Repository.PathOf("packaging/deb/lintian-overrides"));

        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("aifactory-agent:", StringComparison.Ordinal))
            {
                Assert.True(i > 0 && lines[i - 1].StartsWith('#'), $"override on line {i + 1} has no reason above it");
            }
        }
    }
}
