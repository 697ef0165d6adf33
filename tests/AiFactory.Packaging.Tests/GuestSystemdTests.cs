namespace AiFactory.Packaging.Tests;

/// <summary>
/// The .deb installed in a Debian 12 guest with systemd as PID 1 under QEMU (tests/lab/guest-systemd). All of
/// these share one boot (the first test to run waits for it, about 3-6 minutes under TCG).
/// </summary>
[Collection(PackagingCollection.Name)]
public sealed class GuestSystemdTests(BuiltPackages packages, GuestRun guest)
{
    private GuestResults Run => guest.Results(packages);

    [Fact]
    public void Installing_the_deb_enables_and_starts_the_agent_and_its_ready_target()
    {
        Assert.Equal("none", Run["dpkg_known_before"]);
        Assert.Equal("0", Run["install_status"]);
        Assert.Equal("active", Run["active_after_install"]);
        Assert.Equal("enabled", Run["enabled_after_install"]);
        Assert.Equal("active", Run["ready_target_after_install"]);
        Assert.Equal("main", Run["notify_access"]);
        Assert.Equal("30s", Run["watchdog_usec"]);
        Assert.StartsWith("serving on /run/aifactory/agent.sock", Run["status_text"], StringComparison.Ordinal);
    }

    [Fact]
    public void The_package_sets_up_directories_modules_and_the_socket_with_root_only_modes()
    {
        Assert.Equal("750", Run["run_dir_mode"]);
        Assert.Equal("750", Run["state_dir_mode"]);
        Assert.Equal("660", Run["socket_mode"]);
        Assert.Equal("yes", Run["vfio_pci_loaded"]);
    }

    [Fact]
    public void The_first_start_after_install_already_lets_the_agent_open_vfio_devices()
    {
        // systemd resolves DeviceAllow=char-vfio when it sets up the cgroup, before ExecStartPre=: the postinst
        // loads vfio-pci first, so the class is in the policy of the very first start.
        Assert.Equal("no", Run["vfio_in_proc_devices_before_install"]);
        Assert.Equal("allowed", Run["vfio_class_in_unit_cgroup"]);
        Assert.Equal("denied", Run["disk_in_unit_cgroup"]);

        // The control, in the same guest: loaded after a service with the same policy started (as ExecStartPre=
        // would), the class stays closed to that service.
        Assert.Equal("denied", Run["vfio_class_loaded_after_start"]);
    }

    [Fact]
    public void The_service_is_active_only_once_the_agent_answers()
    {
        // Sampled every ~20 ms through a restart: each "active" sample was followed by a health call.
        Assert.True(Run.Number("ready_samples_activating") >= 1, "the sampler never saw the service activating");
        Assert.True(Run.Number("ready_samples_active") >= 1, "the sampler never saw the service active");
        Assert.Equal("0", Run["ready_samples_active_before_health"]);
        Assert.True(Run.Number("start_to_ready_ms") > 0);
        Assert.Equal("active", Run["active_after_edit"]);
    }

    [Fact]
    public void The_grpc_health_check_answers_on_the_socket_in_the_guest_and_on_the_forwarded_port()
    {
        Assert.Equal("0", Run["health_socket_status"]);
        Assert.Contains("SERVING", Run.Evidence("health-socket.txt"), StringComparison.Ordinal);
        Assert.Equal("yes", Run["host_reached_guest"]);
        Assert.Equal("0", Run["health_tcp_status"]);
        Assert.Contains("SERVING", Run.Evidence("health-tcp.txt"), StringComparison.Ordinal);
    }

    [Fact]
    public void The_metrics_listener_answers_http_on_the_forwarded_loopback_port_only()
    {
        // The exposition, with families every host has (no GPU in the guest): its PCI devices and the build.
        string metrics = Run.Evidence("metrics.txt");
        Assert.True(Run["metrics_http_code"] == "200", $"/metrics answered {Run["metrics_http_code"]}:\n{metrics}");
        Assert.Contains("# TYPE aifactory_pci_device_info gauge", metrics, StringComparison.Ordinal);
        Assert.Matches("(?m)^aifactory_pci_device_info\\{.*\\} 1$", metrics);
        Assert.Contains("# TYPE aifactory_build_info gauge", metrics, StringComparison.Ordinal);

        // curl exit 7: connection refused on the host's other address (hostfwd binds 127.0.0.1 only).
        Assert.Equal("7", Run["metrics_on_other_address_curl_status"]);
    }

    [Fact]
    public void Systemd_restarts_the_agent_after_kill_9()
    {
        Assert.NotEqual(Run["killed_pid"], Run["restarted_pid"]);
        Assert.Equal("1", Run["restarts_after_kill"]);
        Assert.Equal("active", Run["active_after_kill"]);
        Assert.Equal("0", Run["health_after_kill_status"]);
    }

    [Fact]
    public void Systemctl_stop_is_clean()
    {
        Assert.Equal("inactive", Run["stop_active_state"]);
        Assert.Equal("success", Run["stop_result"]);
        Assert.Equal("1", Run["stop_exit_code"]); // CLD_EXITED: the agent exited by itself
        Assert.Equal("0", Run["stop_exit_status"]);
        Assert.Equal("gone", Run["socket_after_stop"]);
        Assert.Equal("gone", Run["run_dir_after_stop"]); // RuntimeDirectory=, RuntimeDirectoryPreserve=no
        Assert.Equal("inactive", Run["ready_target_after_stop"]);
    }

    [Fact]
    public void A_deleted_state_directory_is_made_again_by_the_next_start()
    {
        // StateDirectory= instead of a ReadWritePaths= entry that would fail the start with 226/NAMESPACE.
        Assert.Equal("active", Run["active_after_state_dir_deleted"]);
        Assert.Equal("750", Run["state_dir_mode_after_deleted"]);
        Assert.Equal("750", Run["run_dir_mode_after_restart"]);
    }

    [Fact]
    public void An_unattended_upgrade_keeps_the_edited_configuration_writes_the_new_one_aside_and_restarts_the_agent()
    {
        // apt-get -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold, no terminal, while
        // both the operator and the release changed agent.yaml.
        Assert.True(Run["upgrade_status"] == "0", Run.Evidence("dpkg-upgrade.log"));
        Assert.Equal(packages.NextVersion, Run["upgraded_version"]);
        Assert.Equal("yes", Run["config_kept"]);
        Assert.Equal("agent.yaml.dpkg-dist", Run["config_leftovers"]);
        Assert.Equal("yes", Run["dpkg_dist_is_the_new_release"]);
        Assert.Equal("active", Run["active_after_upgrade"]);
        Assert.Equal("yes", Run["restarted_on_upgrade"]);
        Assert.Equal("0", Run["health_after_upgrade_status"]);
    }

    [Fact]
    public void A_persisted_override_sets_the_driver_override_when_udev_adds_the_device()
    {
        Assert.Matches("^0000:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$", Run["udev_override_device"]);
        Assert.Equal("vfio-pci", Run["udev_override_result"]);
    }

    [Fact]
    public void The_running_unit_scores_below_three_in_systemd_analyze_security()
    {
        string[] score = Run["security_exposure"].Split(' ');

        Assert.InRange(double.Parse(score[0], System.Globalization.CultureInfo.InvariantCulture), 0.0, 3.0);
        Assert.Equal("OK", score[1]);
    }

    [Fact]
    public void Removing_keeps_state_and_configuration_and_purging_leaves_the_system_as_before()
    {
        Assert.Equal("0", Run["remove_status"]);
        Assert.Equal("inactive", Run["active_after_remove"]);
        Assert.Equal("kept", Run["state_after_remove"]);
        Assert.Equal("kept", Run["config_after_remove"]);
        Assert.Equal("gone", Run["binary_after_remove"]);
        Assert.Equal("0", Run["purge_status"]);
        Assert.Equal("none", Run["dpkg_known_after_purge"]);
        Assert.Equal("gone", Run["run_dir_after_purge"]);
        Assert.Equal("0", Run["unit_known_after_purge"]);
        Assert.True(Run["snapshot_diff_lines"] == "0", "files differ after purge:\n" + Run.Evidence("snapshot-diff.txt"));
    }

    [Fact]
    public void The_guest_powers_itself_off_after_the_scenario()
    {
        Assert.Equal("yes", Run["guest_powered_off"]);
    }
}
