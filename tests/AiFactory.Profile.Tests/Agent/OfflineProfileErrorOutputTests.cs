using AiFactory.Agent.Profile;
using AiFactory.Profile.Tests.Kernel;

namespace AiFactory.Profile.Tests.Agent;

/// <summary>
/// <c>aifactory-agent profile plan|apply</c> without the daemon, on an invalid profile: each error is printed once, on
/// one line, with one <c>invalid profile:</c> prefix, naming the field, the value and why (a refused apply's log line,
/// which says the same, is left out; a newline in a quoted key or value is written as <c>\x0a</c>), and the command
/// exits 2 with nothing changed.
/// </summary>
[Collection(ConsoleErrorCollection.Name)]
public sealed class OfflineProfileErrorOutputTests : IDisposable
{
    private const string Pages = "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages";
    private const string KnownKeys = "known here: version, vfio, sriov, mig, hugepages, cpus, services";

    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly string _profile;
    private readonly string _procfs;

    public OfflineProfileErrorOutputTests()
    {
        _profile = Path.Join(Path.GetDirectoryName(_fs.Root)!, "profile.yaml");
        _procfs = Directory.CreateDirectory(Path.Join(Path.GetDirectoryName(_fs.Root)!, "proc")).FullName;
        Directory.CreateDirectory(_fs.StateDir);
        _fs.Write(Pages, "64");
    }

    public void Dispose() => _fs.Dispose();

    public static TheoryData<string, string, string[]> InvalidProfiles()
    {
        var data = new TheoryData<string, string, string[]>();
        foreach (string verb in new[] { "plan", "apply" })
        {
            data.Add(verb, "version: v1\nbogus: 1\n", [$"invalid profile: bogus: unknown key (line 2); {KnownKeys}"]);
            data.Add(verb, "version: v1\nhugepages: [{node: 0, size: 3M, count: -1}]\n",
                ["invalid profile: hugepages[0].size: \"3M\" is not a hugepage size (2M, 1G)", "invalid profile: hugepages[0].count: \"-1\" is not a page count"]);
            data.Add(verb, string.Empty, ["invalid profile: (document): must be a mapping with version: v1"]);
            data.Add(verb, "version: v1\n---\nversion: v1\n",
                ["invalid profile: line 3: a second YAML document (after ---): a profile is one document (2 found); merge them or remove the rest"]);
            data.Add(verb, "version: v1\nx: " + new string('[', 70) + new string(']', 70) + "\n",
                ["invalid profile: line 2: not valid YAML: nested deeper than 64 levels (a mapping or sequence at depth 65 opens at line 2, column 67); nothing beyond was read"]);
            data.Add(verb, "version: v1\n\"a\\nb\": 1\n", [$"invalid profile: a\\x0ab: unknown key (line 2); {KnownKeys}"]);
            data.Add(verb, "version: v1\nhugepages: [{node: 0, size: \"2\\nM\", count: 1}]\n", ["invalid profile: hugepages[0].size: \"2\\x0aM\" is not a hugepage size (2M, 1G)"]);
            // Refused when planned (not when read): the apply used to log the same errors again.
            data.Add(verb, "version: v1\nhugepages: [{node: 9, size: 2M, count: 1}]\n", ["invalid profile: hugepages[0].node: no NUMA node 9 (nodes: 0,1)"]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(InvalidProfiles))]
    public void Each_error_of_an_invalid_profile_is_one_line_with_one_prefix(string verb, string yaml, string[] expected)
    {
        (int exit, string errors) = Run(verb, yaml);

        Assert.Equal(2, exit);
        Assert.Equal(expected, errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("64", _fs.Read(Pages));
    }

    [Theory]
    [InlineData("plan")]
    [InlineData("apply")]
    public void A_yaml_syntax_error_is_one_line_naming_the_line(string verb)
    {
        (int exit, string errors) = Run(verb, "version: v1\nhugepages: [{node: 0\n");

        Assert.Equal(2, exit);
        Assert.StartsWith("invalid profile: line 3: not valid YAML: ", Assert.Single(errors.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    private (int Exit, string Errors) Run(string verb, string yaml)
    {
        File.WriteAllText(_profile, yaml);
        var flags = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["sysfs-root"] = _fs.Root,
            ["procfs-root"] = _procfs,
            ["state-dir"] = _fs.StateDir,
            ["nvml-library"] = Path.Join(_procfs, "no-libnvidia-ml.so.1"),
        };
        TextWriter was = Console.Error;
        var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            return (ProfileCommand.Run(verb, _profile, flags), captured.ToString());
        }
        finally
        {
            Console.SetError(was);
        }
    }
}
