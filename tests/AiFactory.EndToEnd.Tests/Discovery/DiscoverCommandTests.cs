using System.Text.Json;

namespace AiFactory.EndToEnd.Tests.Discovery;

/// <summary>
/// <c>aifactory-agent discover --json</c> on the dgx-h100 fixture, run as the published binary (native AOT under
/// tools/test.sh): the canonical protobuf JSON must hold the whole machine.
/// </summary>
public sealed class DiscoverCommandTests
{
    [Fact]
    public async Task Discover_json_prints_the_dgx_h100_inventory_in_protobuf_json()
    {
        string root = Unpack("dgx-h100");
        try
        {
            (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, ["discover", "--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc"), "--json", "--strict"]);

            Assert.True(status == 0, stderr);
            using JsonDocument doc = JsonDocument.Parse(stdout);
            JsonElement inv = doc.RootElement;
            Assert.Equal(224, inv.GetProperty("cpus").GetProperty("threads").GetInt32());
            Assert.Equal(2, inv.GetProperty("numaNodes").GetArrayLength());
            JsonElement[] gpus = [.. inv.GetProperty("pciDevices").EnumerateArray().Where(d => d.GetProperty("kind").GetString() == "gpu")];
            Assert.Equal(8, gpus.Length);
            Assert.Equal("H100 SXM5 80GB", gpus[0].GetProperty("modelName").GetString());
            Assert.Equal(8, inv.GetProperty("gpuAffinity").EnumerateArray().Count(a => a.GetProperty("nicsSameSwitch").GetArrayLength() == 1));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Capture_fixture_writes_an_archive_that_unpacks_and_rediscovers()
    {
        string root = Unpack("workstation");
        string archive = Path.Combine(root, "captured.ttar");
        try
        {
            (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, ["capture-fixture", "--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc"), "--out", archive]);
            Assert.True(status == 0, stderr);
            string again = Unpack(archive);
            try
            {
                (status, string stdout, stderr) = await RunningProcess.RunAsync(Binaries.Agent, ["discover", "--sysfs-root", Path.Combine(again, "sys"), "--procfs-root", Path.Combine(again, "proc"), "--json", "--strict"]);
                Assert.True(status == 0, stderr);
                using JsonDocument doc = JsonDocument.Parse(stdout);
                Assert.Equal(9, doc.RootElement.GetProperty("pciDevices").GetArrayLength());
            }
            finally
            {
                Directory.Delete(again, true);
            }
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Capture_fixture_into_a_missing_folder_or_onto_a_folder_says_why_in_one_line_and_leaves_no_temp_file()
    {
        string root = Unpack("workstation");
        try
        {
            string[] sys = ["--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc")];
            string intoMissing = Path.Combine(root, "no-such-folder", "x.ttar");
            string ontoFolder = Path.Combine(root, "a-folder");
            Directory.CreateDirectory(ontoFolder);

            foreach (string output in new[] { intoMissing, ontoFolder })
            {
                (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, ["capture-fixture", .. sys, "--out", output]);

                Assert.Equal(73, status);
                Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
                Assert.Contains("cannot write " + output, stderr, StringComparison.Ordinal);
                Assert.False(File.Exists(output + ".tmp"), output + ".tmp was left behind");
                Assert.Empty(Directory.GetFiles(root, "*.tmp"));
            }

            Assert.True(Directory.Exists(ontoFolder));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Capture_fixture_never_writes_through_a_link_planted_at_the_old_temp_name_or_at_the_output()
    {
        string root = Unpack("workstation");
        try
        {
            string[] sys = ["--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc")];
            string victim = Path.Combine(root, "victim.conf");
            File.WriteAllText(victim, "precious\n");
            string archive = Path.Combine(root, "out.ttar");
            File.CreateSymbolicLink(archive + ".tmp", victim);
            string linked = Path.Combine(root, "linked.ttar");
            File.CreateSymbolicLink(linked, victim);

            (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, ["capture-fixture", .. sys, "--out", archive]);
            (int linkedStatus, _, string linkedError) = await RunningProcess.RunAsync(Binaries.Agent, ["capture-fixture", .. sys, "--out", linked]);

            Assert.True(status == 0, stderr);
            Assert.Null(new FileInfo(archive).LinkTarget);
            Assert.StartsWith("#", File.ReadAllText(archive), StringComparison.Ordinal);
            Assert.Equal(victim, new FileInfo(archive + ".tmp").LinkTarget);
            Assert.Equal(73, linkedStatus);
            Assert.Equal($"capture-fixture: cannot write {linked}: it is a symbolic link, not a regular file; left as it is", Assert.Single(linkedError.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
            Assert.Equal(victim, new FileInfo(linked).LinkTarget);
            Assert.Equal("precious\n", File.ReadAllText(victim));
            Assert.Empty(Directory.GetFiles(root, ".*.tmp"));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Capture_fixture_refuses_a_fifo_or_a_socket_at_the_output_with_exit_73_and_leaves_it_there()
    {
        string root = Unpack("workstation");
        try
        {
            string[] sys = ["--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc")];
            string fifo = Path.Combine(root, "pipe.ttar");
            (int mkfifo, _, string mkfifoError) = await RunningProcess.RunAsync(("mkfifo", []), [fifo]);
            Assert.True(mkfifo == 0, mkfifoError);
            string socketPath = Path.Combine(root, "socket.ttar");
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));

            foreach ((string output, string type) in new[] { (fifo, "a FIFO"), (socketPath, "a socket") })
            {
                (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, ["capture-fixture", .. sys, "--out", output]);

                Assert.Equal(73, status);
                Assert.Equal($"capture-fixture: cannot write {output}: it is {type}, not a regular file; left as it is", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
            }

            (int statStatus, string types, _) = await RunningProcess.RunAsync(("stat", []), ["-c", "%F", fifo, socketPath]);
            Assert.Equal(0, statStatus);
            Assert.Equal(["fifo", "socket"], types.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Empty(Directory.GetFiles(root, ".*.tmp"));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Capture_fixture_and_discover_refuse_a_sysfs_root_that_does_not_exist()
    {
        string folder = Directory.CreateTempSubdirectory("aifactory-e2e-missing-root-").FullName;
        try
        {
            string missing = Path.Combine(folder, "nonexistent");
            string archive = Path.Combine(folder, "x.ttar");

            (int captureStatus, _, string captureError) = await RunningProcess.RunAsync(Binaries.Agent, ["capture-fixture", "--sysfs-root", missing, "--out", archive]);
            (int discoverStatus, _, string discoverError) = await RunningProcess.RunAsync(Binaries.Agent, ["discover", "--sysfs-root", missing, "--procfs-root", missing]);

            Assert.Equal(66, captureStatus);
            Assert.Single(captureError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(missing + " is not a directory", captureError, StringComparison.Ordinal);
            Assert.False(File.Exists(archive));
            Assert.Equal(66, discoverStatus);
            Assert.Single(discoverError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(missing + " is not a directory", discoverError, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public async Task Empty_roots_and_an_empty_out_are_refused_in_one_line_each_without_a_stack_trace()
    {
        string folder = Directory.CreateTempSubdirectory("aifactory-e2e-empty-root-").FullName;
        try
        {
            string archive = Path.Combine(folder, "x.ttar");
            (string[] Args, int Status, string Line)[] cases =
            [
                (["discover", "--sysfs-root", "", "--procfs-root", folder], 66, "discover: --sysfs-root is empty: give a directory; nothing discovered"),
                (["discover", "--sysfs-root", folder, "--procfs-root", ""], 66, "discover: --procfs-root is empty: give a directory; nothing discovered"),
                (["capture-fixture", "--sysfs-root", "", "--out", archive], 66, "capture-fixture: --sysfs-root is empty: give a directory; nothing captured"),
                (["capture-fixture", "--procfs-root", "", "--out", archive], 66, "capture-fixture: --procfs-root is empty: give a directory; nothing captured"),
                (["capture-fixture", "--sysfs-root", folder, "--out", ""], 64, "capture-fixture: --out is empty: give a file to write; nothing captured"),
            ];

            foreach ((string[] args, int expectedStatus, string expectedLine) in cases)
            {
                (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, args);

                Assert.True(expectedStatus == status, $"{string.Join(' ', args)}: exit {status}, stderr {stderr}");
                Assert.Equal(string.Empty, stdout);
                Assert.Equal(expectedLine, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
            }

            Assert.False(File.Exists(archive));
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    [Fact]
    public async Task Discover_refuses_a_fixtures_folder_given_as_the_sysfs_root_and_a_missing_procfs_root_in_one_line_each()
    {
        string root = Unpack("dgx-h100");
        try
        {
            (int parentStatus, string parentOut, string parentError) = await RunningProcess.RunAsync(Binaries.Agent, ["discover", "--sysfs-root", root, "--procfs-root", Path.Combine(root, "proc")]);
            string missing = Path.Combine(root, "nonexistent");
            (int procStatus, string procOut, string procError) = await RunningProcess.RunAsync(Binaries.Agent, ["discover", "--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", missing]);

            Assert.Equal(66, parentStatus);
            Assert.Equal(string.Empty, parentOut);
            Assert.Equal($"discover: sysfs root {root} has no devices/system/cpu/online: not a sysfs tree (a fixture's is its sys/ folder); nothing discovered", parentError.TrimEnd('\n'));
            Assert.Equal(66, procStatus);
            Assert.Equal(string.Empty, procOut);
            Assert.Equal($"discover: procfs root {missing} is not a directory; nothing discovered", procError.TrimEnd('\n'));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task The_daemon_refuses_to_start_on_a_sysfs_root_without_cpus_with_one_line_and_exit_66()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        try
        {
            File.Delete(Path.Combine(dir, "fixture", "sys", "devices", "system", "cpu", "online"));

            (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, AgentUnderTest.Arguments(dir));

            Assert.Equal(66, status);
            Assert.Equal(string.Empty, stdout);
            string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal($"aifactory-agent: cannot discover the hardware: sysfs root {Path.Combine(dir, "fixture", "sys")} has no devices/system/cpu/online: not a sysfs tree (a fixture's is its sys/ folder)", line);
            Assert.False(File.Exists(Path.Combine(dir, "run", "agent.sock")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static string Unpack(string fixture) => FixtureTrees.Unpack(fixture);
}
