namespace AiFactory.Packaging.Tests;

/// <summary>
/// The packages under test, built once per test run by packaging/build.sh from the native-AOT publish: the .deb
/// and .rpm of the VERSION file's version, and a .deb of a later version for the upgrade, whose agent.yaml
/// differs from the first's (<see cref="UpstreamConfigChange"/>) as a release's would, so that the guest's
/// upgrade meets a conffile changed on both sides. The .deb is unpacked (files and control area) for inspection.
/// </summary>
public sealed class BuiltPackages : IDisposable
{
    public BuiltPackages()
    {
        Work = Directory.CreateTempSubdirectory("aifactory-packaging-").FullName;
        PublishDir = FindOrPublish();
        Version = File.ReadAllText(Repository.PathOf("VERSION")).Trim();
        NextVersion = Bump(Version);

        Tool.Run(Repository.PathOf("packaging/build.sh"), "--publish-dir", PublishDir, "--out", Path.Combine(Work, "out"), "linux-x64").EnsureSuccess();
        Tool.Run(Repository.PathOf("packaging/build.sh"), "--publish-dir", PublishDir, "--out", Path.Combine(Work, "next"), "--version", NextVersion, "--only", "deb", "linux-x64").EnsureSuccess();
        Deb = Path.Combine(Work, "out", $"aifactory-agent_{Version}_amd64.deb");
        Rpm = Path.Combine(Work, "out", $"aifactory-agent-{Version}-1.x86_64.rpm");
        NextDeb = Path.Combine(Work, "next", $"aifactory-agent_{NextVersion}_amd64.deb");
        ChangeUpstreamConfig(NextDeb, Path.Combine(Work, "next-tree"));

        DebRoot = Path.Combine(Work, "deb-root");
        DebControl = Path.Combine(Work, "deb-control");
        Tool.Run("dpkg-deb", "-x", Deb, DebRoot).EnsureSuccess();
        Tool.Run("dpkg-deb", "-e", Deb, DebControl).EnsureSuccess();
    }

    /// <summary>A scratch folder for this run, deleted at the end.</summary>
    public string Work { get; }

    /// <summary>The native-AOT binaries packaged (tools/publish-aot.sh output).</summary>
    public string PublishDir { get; }

    public string Version { get; }

    public string NextVersion { get; }

    public string Deb { get; }

    public string Rpm { get; }

    public string NextDeb { get; }

    /// <summary>The line the later .deb adds to its /etc/aifactory/agent.yaml.</summary>
    public const string UpstreamConfigChange = "# upstream change for the upgrade test: the next release's agent.yaml differs";

    /// <summary>The .deb's files, unpacked.</summary>
    public string DebRoot { get; }

    /// <summary>The .deb's control area (control, conffiles, md5sums, maintainer scripts).</summary>
    public string DebControl { get; }

    public string DebFile(string path) => Path.Combine(DebRoot, path.TrimStart('/'));

    public string ControlFile(string name) => File.ReadAllText(Path.Combine(DebControl, name));

    /// <summary>The .deb's control field, e.g. "Depends".</summary>
    public string ControlField(string name) =>
        ControlFile("control").Split('\n').Where(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Select(l => l[(name.Length + 1)..].Trim()).SingleOrDefault() ?? string.Empty;

    /// <summary>An rpm query of the package file, e.g. "--requires".</summary>
    public string RpmQuery(params string[] query) => Tool.Run("rpm", ["-qp", .. query, Rpm]).EnsureSuccess().Stdout;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Rebuilds <paramref name="deb"/> with <see cref="UpstreamConfigChange"/> appended to its agent.yaml (and its
    /// md5sums updated). build.sh builds both versions from one tree, so their conffiles would otherwise be equal
    /// and dpkg would never have to choose between the operator's file and the new one.
    /// </summary>
    private static void ChangeUpstreamConfig(string deb, string tree)
    {
        Tool.Run("dpkg-deb", "-R", deb, tree).EnsureSuccess();
        File.AppendAllText(Path.Combine(tree, "etc/aifactory/agent.yaml"), "\n" + UpstreamConfigChange + "\n");
        Tool.Run("/bin/sh", "-c", "cd \"$1\" && find . -path ./DEBIAN -prune -o -type f -printf '%P\\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums", "md5sums", tree).EnsureSuccess();
        // gzip: a second xz pass over 27 MB costs a minute on a loaded machine and changes nothing the upgrade sees.
        Tool.Run("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, deb).EnsureSuccess();
    }

    /// <summary>"0.1.0" becomes "0.1.1": the version of the upgrade package.</summary>
    internal static string Bump(string version)
    {
        string[] parts = version.Split('.');
        parts[^1] = (int.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return string.Join('.', parts);
    }

    /// <summary>
    /// $AIFACTORY_PUBLISH_DIR (tools/test.sh sets it), else the repository's own publish folder, else a fresh
    /// native-AOT publish (about two minutes): packages hold the AOT binaries, a JIT build cannot stand in.
    /// </summary>
    private static string FindOrPublish()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("AIFACTORY_PUBLISH_DIR");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return fromEnv;
        }

        string local = Repository.PathOf("artifacts/publish/linux-x64");
        if (!File.Exists(Path.Combine(local, "aifactory-agent")) || !File.Exists(Path.Combine(local, "aifactoryctl")))
        {
            Tool.Run(Repository.PathOf("tools/publish-aot.sh"), "linux-x64").EnsureSuccess();
        }

        return local;
    }
}

[CollectionDefinition(Name)]
public sealed class PackagingCollection : ICollectionFixture<BuiltPackages>, ICollectionFixture<GuestRun>
{
    public const string Name = "packages";
}
