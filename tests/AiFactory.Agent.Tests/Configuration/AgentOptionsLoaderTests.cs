using AiFactory.Agent.Configuration;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Tests.Configuration;

public sealed class AgentOptionsLoaderTests : IDisposable
{
    private static readonly Dictionary<string, string> NoFlags = [];
    private static readonly Dictionary<string, string?> NoEnvironment = [];
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Defaults_are_the_real_machine_roots_and_the_packaged_paths()
    {
        AgentOptions options = AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), NoFlags, NoEnvironment);

        Assert.Equal("/sys", options.SysfsRoot);
        Assert.Equal("/proc", options.ProcfsRoot);
        Assert.Equal("/var/lib/aifactory", options.StateDir);
        Assert.Equal("/run/aifactory/agent.sock", options.Socket);
        Assert.Null(options.Listen);
        Assert.Equal("0.0.0.0:9400", options.MetricsListen);
        Assert.Equal(LogLevel.Information, options.LogLevel);
        Assert.Equal(TimeSpan.FromSeconds(10), options.ShutdownTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.IdleTrim);
        Assert.Equal(4 * 1024 * 1024, options.MaxMessageSize);
    }

    [Fact]
    public void Idle_trim_is_seconds_from_yaml_environment_or_flag_and_zero_turns_it_off()
    {
        string path = _dir.File("agent.yaml", "idle-trim: 30\n");

        Assert.Equal(TimeSpan.FromSeconds(30), AgentOptionsLoader.Load(path, NoFlags, NoEnvironment).IdleTrim);
        Assert.Equal(TimeSpan.Zero, AgentOptionsLoader.Load(path, NoFlags, new Dictionary<string, string?> { ["AIFACTORY_IDLE_TRIM"] = "0" }).IdleTrim);
        Assert.Equal(TimeSpan.FromSeconds(2), AgentOptionsLoader.Load(path, new Dictionary<string, string> { ["idle-trim"] = "2" }, NoEnvironment).IdleTrim);

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("bad.yaml", "idle-trim: -1\n"), NoFlags, NoEnvironment));
        Assert.Equal("idle-trim", ex.Key);
        Assert.EndsWith("idle-trim: invalid value \"-1\": must be a whole number from 0 to 3600", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_yaml_key_is_rejected_with_its_name_and_line()
    {
        string path = _dir.File("agent.yaml", "socket: /tmp/a.sock\nlog-level: info\nsocket-path: /tmp/b.sock\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal("socket-path", ex.Key);
        Assert.Contains("unknown key (line 3)", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_under_tls_is_rejected_with_its_dotted_name()
    {
        string path = _dir.File("agent.yaml", "tls:\n  certificate: /x.pem\n  cipher: aes\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal("tls.cipher", ex.Key);
        Assert.Contains("line 3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_value_names_the_key_the_value_and_why()
    {
        string path = _dir.File("agent.yaml", "shutdown-timeout: soon\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal("shutdown-timeout", ex.Key);
        Assert.Equal("soon", ex.Value);
        Assert.Equal($"{path}: shutdown-timeout: invalid value \"soon\": must be a whole number from 1 to 300", ex.Message);
    }

    [Theory]
    [InlineData("log-level", "loud", "must be one of trace, debug, info, warning, error")]
    [InlineData("listen", "somewhere", "must be host:port")]
    [InlineData("socket", "relative.sock", "must be an absolute path")]
    [InlineData("sysfs-root", "/no/such/sysfs", "directory does not exist")]
    [InlineData("max-message-size", "12", "must be a whole number from 1024")]
    [InlineData("listen-plaintext", "maybe", "must be true or false")]
    public void Each_setting_checks_its_value(string key, string value, string why)
    {
        var ex = Assert.Throws<ConfigurationException>(() =>
            AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), new Dictionary<string, string> { [key] = value }, NoEnvironment));

        Assert.Equal(key, ex.Key);
        Assert.Equal(value, ex.Value);
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.Contains("command line --" + key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tcp_listener_without_a_certificate_is_refused()
    {
        var ex = Assert.Throws<ConfigurationException>(() =>
            AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), new Dictionary<string, string> { ["listen"] = "127.0.0.1:7443" }, NoEnvironment));

        Assert.Equal("listen", ex.Key);
        Assert.Contains("tls.certificate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_overrides_the_file_and_flags_override_both()
    {
        string a = _dir.Dir("a");
        string b = _dir.Dir("b");
        string c = _dir.Dir("c");
        string path = _dir.File("agent.yaml", $"sysfs-root: {a}\nprocfs-root: {a}\nstate-dir: {a}\n");
        var env = new Dictionary<string, string?> { ["AIFACTORY_PROCFS_ROOT"] = b, ["AIFACTORY_STATE_DIR"] = b };
        var flags = new Dictionary<string, string> { ["state-dir"] = c };

        AgentOptions options = AgentOptionsLoader.Load(path, flags, env);

        Assert.Equal(a, options.SysfsRoot);
        Assert.Equal(b, options.ProcfsRoot);
        Assert.Equal(c, options.StateDir);
        Assert.Equal(path, options.ConfigPath);
    }

    [Fact]
    public void An_environment_value_that_is_wrong_is_blamed_on_the_environment_variable()
    {
        var env = new Dictionary<string, string?> { ["AIFACTORY_LOG_LEVEL"] = "chatty" };

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), NoFlags, env));

        Assert.Contains("environment AIFACTORY_LOG_LEVEL", ex.Message, StringComparison.Ordinal);
        Assert.Equal("chatty", ex.Value);
    }

    [Fact]
    public void An_explicit_config_file_that_does_not_exist_is_an_error()
    {
        string missing = Path.Combine(_dir.Path, "missing.yaml");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(missing, NoFlags, NoEnvironment));

        Assert.Equal("config", ex.Key);
        Assert.Equal(missing, ex.Value);
        Assert.Contains("file does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_config_path_can_come_from_the_environment()
    {
        string dir = _dir.Dir("state");
        string path = _dir.File("agent.yaml", $"state-dir: {dir}\n");

        AgentOptions options = AgentOptionsLoader.Load(null, NoFlags, new Dictionary<string, string?> { ["AIFACTORY_CONFIG"] = path });

        Assert.Equal(dir, options.StateDir);
    }

    [Fact]
    public void Read_only_can_be_asked_for_in_the_file()
    {
        AgentOptions options = AgentOptionsLoader.Load(_dir.File("agent.yaml", "read-only: true\n"), NoFlags, NoEnvironment);

        Assert.True(options.ReadOnly);
    }

    [Fact]
    public void Off_turns_the_metrics_listener_off()
    {
        AgentOptions options = AgentOptionsLoader.Load(_dir.File("agent.yaml", "metrics-listen: off\n"), NoFlags, NoEnvironment);

        Assert.Null(options.MetricsListen);
    }

    [Fact]
    public void An_empty_metrics_listen_in_the_file_is_refused_naming_the_key_not_taken_as_off()
    {
        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("agent.yaml", "metrics-listen: \"\"\n"), NoFlags, NoEnvironment));

        Assert.Equal("metrics-listen", ex.Key);
        Assert.Contains("metrics-listen: invalid value \"\": empty; give host:port, or 'off'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_yaml_list_where_a_value_belongs_is_rejected()
    {
        string path = _dir.File("agent.yaml", "socket:\n  - /a\n  - /b\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal("socket", ex.Key);
        Assert.Contains("must be a single value (line 2)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_list_under_tls_is_named_as_the_file_spells_the_key()
    {
        string path = _dir.File("agent.yaml", "tls: {certificate: [a, b]}\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal("tls.certificate", ex.Key);
        Assert.Contains("tls.certificate: must be a single value (line 1)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_nested_a_hundred_thousand_deep_is_refused_at_the_depth_limit_before_it_is_loaded()
    {
        string path = _dir.File("agent.yaml", "log-level: " + new string('[', 100_000) + new string(']', 100_000) + "\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal("line 1", ex.Key);
        Assert.Contains("nested deeper than 64 levels (a mapping or sequence at depth 65 opens at line 1, column 75)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Block_indentation_counts_toward_the_depth_limit_and_a_normal_nesting_still_loads()
    {
        string deep = string.Concat(Enumerable.Range(0, 70).Select(i => new string(' ', 2 * i) + "k" + i + ":\n"));
        string path = _dir.File("agent.yaml", "log-level: info\n" + deep);

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Contains("nested deeper than 64 levels", ex.Message, StringComparison.Ordinal);
        Assert.Equal("info", AgentOptionsLoader.ParseYaml("log-level: info\ntls:\n  certificate: /a\n", "agent.yaml").First().Value);
    }

    [Fact]
    public void Broken_yaml_is_reported_with_its_line()
    {
        string path = _dir.File("agent.yaml", "socket: /a\nlog-level: [info\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Contains("not valid YAML", ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("line ", ex.Key, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:9400", true)]
    [InlineData("[::1]:9400", true)]
    [InlineData("localhost:1", true)]
    [InlineData("127.0.0.1:0", false)]
    [InlineData("127.0.0.1:65536", false)]
    [InlineData("example.org:80", false)]
    [InlineData("9400", false)]
    public void Endpoints_are_ip_or_localhost_with_a_port(string value, bool valid)
    {
        Assert.Equal(valid, AgentOptionsLoader.TryParseEndpoint(value, out _));
    }

    [Theory]
    [InlineData("bad-key", "not a Prometheus label name")]
    [InlineData("1node", "not a Prometheus label name")]
    [InlineData("__x", "reserved for Prometheus")]
    [InlineData("UUID", "GPU series already carry the label \"UUID\"")]
    [InlineData("gpu", "GPU series already carry the label")]
    [InlineData("GPU_I_ID", "GPU series already carry the label")]
    [InlineData("DCGM_FI_DRIVER_VERSION", "GPU series already carry the label")]
    [InlineData("err_code", "GPU series already carry the label")]
    [InlineData("le", "\"le\" is the bucket label of the histogram series (aifactory_rpc_duration_seconds, ")]
    public void A_hostname_label_that_Prometheus_would_refuse_is_rejected_naming_the_variable_value_and_why(string label, string reason)
    {
        var env = new Dictionary<string, string?> { ["AIFACTORY_METRICS_HOSTNAME_LABEL"] = label };

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), NoFlags, env));

        Assert.Equal("metrics-hostname-label", ex.Key);
        Assert.Equal(label, ex.Value);
        Assert.StartsWith($"environment AIFACTORY_METRICS_HOSTNAME_LABEL: metrics-hostname-label: invalid value \"{label}\": ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_hostname_label_is_renamed_from_the_file_or_left_out_when_empty()
    {
        AgentOptions defaults = AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), NoFlags, NoEnvironment);
        AgentOptions renamed = AgentOptionsLoader.Load(_dir.File("agent.yaml", "metrics-hostname-label: node\nmetrics-hostname: k8s-node-7\n"), NoFlags, NoEnvironment);
        AgentOptions none = AgentOptionsLoader.Load(_dir.File("none.yaml", "metrics-hostname-label: \"\"\n"), NoFlags, NoEnvironment);

        Assert.Equal("Hostname", defaults.MetricsHostnameLabel);
        Assert.Null(defaults.MetricsHostname);
        Assert.Equal("node", renamed.MetricsHostnameLabel);
        Assert.Equal("k8s-node-7", renamed.MetricsHostname);
        Assert.Equal(string.Empty, none.MetricsHostnameLabel);
    }

    [Fact]
    public void A_bad_hostname_label_in_the_file_names_the_file_and_key()
    {
        string path = _dir.File("agent.yaml", "metrics-hostname-label: pci_bus_id\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal("metrics-hostname-label", ex.Key);
        Assert.StartsWith(path + ": metrics-hostname-label: invalid value \"pci_bus_id\"", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0.0.0:17448")]
    [InlineData("192.168.1.10:17448")]
    [InlineData("[::]:17448")]
    public void A_plaintext_listener_on_a_non_loopback_address_is_refused_naming_listen_plaintext(string listen)
    {
        var flags = new Dictionary<string, string> { ["listen"] = listen, ["listen-plaintext"] = "true" };

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), flags, NoEnvironment));

        Assert.Equal("listen-plaintext", ex.Key);
        Assert.Contains("loopback", ex.Message, StringComparison.Ordinal);
        Assert.Contains(listen, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:17448")]
    [InlineData("127.0.0.2:17448")]
    [InlineData("[::1]:17448")]
    [InlineData("localhost:17448")]
    public void A_plaintext_listener_on_loopback_is_accepted(string listen)
    {
        var flags = new Dictionary<string, string> { ["listen"] = listen, ["listen-plaintext"] = "true" };

        AgentOptions options = AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), flags, NoEnvironment);

        Assert.Equal(listen, options.Listen);
        Assert.True(options.ListenPlaintext);
    }

    [Fact]
    public void A_plaintext_listener_on_a_network_address_needs_the_value_that_says_so()
    {
        var flags = new Dictionary<string, string> { ["listen"] = "0.0.0.0:17448", ["listen-plaintext"] = "insecure-any-address" };

        AgentOptions options = AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), flags, NoEnvironment);

        Assert.Equal("0.0.0.0:17448", options.Listen);
        Assert.True(options.ListenPlaintext);
        Assert.True(options.ListenPlaintextAnyAddress);
    }

    [Fact]
    public void A_socket_path_longer_than_a_unix_socket_address_holds_is_refused()
    {
        string socket = "/run/" + new string('s', 100) + ".sock";

        var ex = Assert.Throws<ConfigurationException>(() =>
            AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), new Dictionary<string, string> { ["socket"] = socket }, NoEnvironment));

        Assert.Equal("socket", ex.Key);
        Assert.Contains("is 110 bytes long; a Unix socket path holds at most 107", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_socket_path_of_107_bytes_is_accepted()
    {
        string socket = "/run/" + new string('s', 97) + ".sock";

        AgentOptions options = AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), new Dictionary<string, string> { ["socket"] = socket }, NoEnvironment);

        Assert.Equal(107, socket.Length);
        Assert.Equal(socket, options.Socket);
    }

    [Fact]
    public void A_socket_path_where_a_regular_file_lies_is_refused_and_the_file_is_kept()
    {
        string config = _dir.File("agent.yaml", "log-level: info\n");

        var ex = Assert.Throws<ConfigurationException>(() =>
            AgentOptionsLoader.Load(config, new Dictionary<string, string> { ["socket"] = config }, NoEnvironment));

        Assert.Equal($"command line --socket: socket: invalid value \"{config}\": exists and is not a socket", ex.Message);
        Assert.Equal("log-level: info\n", File.ReadAllText(config));
    }

    [Fact]
    public void A_missing_config_file_named_in_the_environment_blames_the_environment_variable()
    {
        string missing = Path.Combine(_dir.Path, "missing.yaml");

        var ex = Assert.Throws<ConfigurationException>(() =>
            AgentOptionsLoader.Load(null, NoFlags, new Dictionary<string, string?> { ["AIFACTORY_CONFIG"] = missing }));

        Assert.Equal($"environment AIFACTORY_CONFIG: config: invalid value \"{missing}\": file does not exist", ex.Message);
    }

    [Fact]
    public void A_config_path_that_is_a_directory_is_refused_as_a_directory()
    {
        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.Path, NoFlags, NoEnvironment));

        Assert.Equal("config", ex.Key);
        Assert.Equal($"command line --config: config: invalid value \"{_dir.Path}\": is a directory", ex.Message);
    }

    [Fact]
    public async Task A_config_path_that_is_a_device_is_refused_without_reading_it()
    {
        // /dev/zero never ends: read as a file it grows the agent's memory until the kernel kills it.
        Task<AgentOptions> load = Task.Run(() => AgentOptionsLoader.Load("/dev/zero", NoFlags, NoEnvironment));

        var ex = await Assert.ThrowsAsync<ConfigurationException>(() => load.WaitAsync(TimeSpan.FromMinutes(1)));

        Assert.Equal("command line --config: config: invalid value \"/dev/zero\": is not a regular file", ex.Message);
    }

    [Fact]
    public async Task A_config_path_that_is_a_fifo_is_refused_without_opening_it()
    {
        string fifo = Path.Combine(_dir.Path, "agent.yaml");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // Opening a FIFO for reading blocks until a writer comes; none ever does here.
        Task<AgentOptions> load = Task.Run(() => AgentOptionsLoader.Load(fifo, NoFlags, NoEnvironment));

        var ex = await Assert.ThrowsAsync<ConfigurationException>(() => load.WaitAsync(TimeSpan.FromMinutes(1)));

        Assert.EndsWith("is not a regular file", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_file_larger_than_one_mebibyte_is_refused()
    {
        string path = _dir.File("agent.yaml", "log-level: info\n#" + new string('x', AgentOptionsLoader.MaxConfigBytes) + "\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal($"command line --config: config: invalid value \"{path}\": is larger than 1 MiB", ex.Message);
    }

    [Fact]
    public void A_config_file_through_a_symbolic_link_is_read()
    {
        string target = _dir.File("real.yaml", "read-only: true\n");
        string link = Path.Combine(_dir.Path, "agent.yaml");
        File.CreateSymbolicLink(link, target);

        Assert.True(AgentOptionsLoader.Load(link, NoFlags, NoEnvironment).ReadOnly);
    }

    [Fact]
    public void Bytes_that_are_not_utf8_are_refused_naming_their_offset()
    {
        string path = Path.Combine(_dir.Path, "agent.yaml");
        File.WriteAllBytes(path, [.. "log-level: info\nmetrics-hostname: n"u8, 0xFF, .. "de\n"u8]);

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal($"{path}: (document): is not valid UTF-8 at byte offset 35", ex.Message);
    }

    [Fact]
    public void A_utf8_byte_order_mark_is_skipped()
    {
        string path = Path.Combine(_dir.Path, "agent.yaml");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "read-only: true\n"u8]);

        Assert.True(AgentOptionsLoader.Load(path, NoFlags, NoEnvironment).ReadOnly);
    }

    [Fact]
    public void A_second_yaml_document_is_refused_rather_than_ignored()
    {
        string path = _dir.File("agent.yaml", "log-level: info\n---\nbogus-key: 1\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Contains("more than one YAML document (the second starts at line 3)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_tls_section_says_it_is_empty_and_what_it_needs()
    {
        string path = _dir.File("agent.yaml", "tls:\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal("tls", ex.Key);
        Assert.Equal($"{path}: tls: is empty (line 1); it needs certificate and key beneath it", ex.Message);
    }

    [Fact]
    public void A_metrics_hostname_longer_than_a_dns_name_is_refused()
    {
        var flags = new Dictionary<string, string> { ["metrics-hostname"] = new string('h', 10 * 1024 * 1024) };

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), flags, NoEnvironment));

        Assert.Equal("metrics-hostname", ex.Key);
        Assert.EndsWith("is 10485760 characters long; a host name has at most 253", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Message.Length < 200, ex.Message);
    }

    [Fact]
    public void Leases_attach_only_through_the_system_qemu_uri_unless_libvirt_uris_lists_others()
    {
        AgentOptions defaults = AgentOptionsLoader.Load(_dir.File("empty.yaml", string.Empty), NoFlags, NoEnvironment);
        AgentOptions listed = AgentOptionsLoader.Load(_dir.File("agent.yaml", "libvirt-uris: test:///default, qemu:///system,test:///default\n"), NoFlags, NoEnvironment);

        Assert.Equal(["qemu:///system"], defaults.LibvirtUris);
        Assert.Equal(["test:///default", "qemu:///system"], listed.LibvirtUris);
    }

    [Theory]
    [InlineData("qemu+ssh://root@host/system")]
    [InlineData("qemu+ext:///system?command=/tmp/x.sh")]
    [InlineData("qemu+unix:///system?socket=/tmp/s")]
    [InlineData("qemu:///system#x")]
    [InlineData("test:///../etc/passwd")]
    [InlineData("qemu:///system,")]
    public void A_libvirt_uris_entry_that_is_not_a_local_driver_uri_is_rejected_naming_it(string value)
    {
        string path = _dir.File("agent.yaml", $"libvirt-uris: \"{value}\"\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(path, NoFlags, NoEnvironment));

        Assert.Equal("libvirt-uris", ex.Key);
        Assert.Contains(value.EndsWith(',') ? "has an empty entry" : "is not a local libvirt URI", ex.Message, StringComparison.Ordinal);
    }
}
