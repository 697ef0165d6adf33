using AiFactory.Agent.Metrics.Exposition;

namespace AiFactory.Agent.Metrics;

/// <summary>
/// Every metric family the agent exposes and every label key, declared once. GPU series keep dcgm-exporter's
/// names, help texts, types and label keys (etc/default-counters.csv and its exposition template) so that stock
/// dashboards work unchanged; everything else is ours and starts with <c>aifactory_</c>.
/// </summary>
internal static class MetricNames
{
    /// <summary>Label keys.</summary>
    internal static class Labels
    {
        // dcgm-exporter's, in its order: gpu, UUID, pci_bus_id, device, modelName, [GPU_I_PROFILE, GPU_I_ID], Hostname, DCGM_FI_DRIVER_VERSION.
        public const string Gpu = "gpu";
        public const string Uuid = "UUID";
        public const string PciBusId = "pci_bus_id";
        public const string Device = "device";
        public const string ModelName = "modelName";
        public const string GpuInstanceProfile = "GPU_I_PROFILE";
        public const string GpuInstanceId = "GPU_I_ID";
        public const string DefaultHostname = "Hostname";
        public const string DriverVersion = "DCGM_FI_DRIVER_VERSION";

        // dcgm-exporter's attributes of DCGM_FI_DEV_XID_ERRORS (since 3.3.6-3.4.2), after the labels above.
        public const string XidErrorCode = "err_code";
        public const string XidErrorMessage = "err_msg";

        // Ours.
        public const string Address = "address";
        public const string PhysicalFunction = "physical_function";
        public const string Vendor = "vendor";
        public const string DeviceId = "device_id";
        public const string Driver = "driver";
        public const string Kind = "kind";
        public const string NumaNode = "numa_node";
        public const string IommuGroup = "iommu_group";
        public const string Severity = "severity";
        public const string Error = "error";
        public const string PageSizeKiB = "page_size_kib";
        public const string CpuState = "state";
        public const string Lease = "lease";
        public const string Vm = "vm";
        public const string LeaseState = "state";
        public const string Resource = "resource";
        public const string Collector = "collector";
        public const string Method = "method";
        public const string Code = "code";
        public const string Outcome = "outcome";
        public const string Function = "function";
        public const string Version = "version";
        public const string Commit = "commit";
        public const string Runtime = "runtime";
        public const string Generation = "generation";
        public const string Issuer = "issuer";
    }

    /// <summary>
    /// dcgm-exporter's series. Label keys come from the per-GPU (or per-MIG-instance) label set, so the families declare
    /// none, except the XID family's err_code/err_msg that follow that set.
    /// </summary>
    internal static class Dcgm
    {
        public static readonly MetricFamily SmClock = new("DCGM_FI_DEV_SM_CLOCK", MetricType.Gauge, "SM clock frequency (in MHz).");
        public static readonly MetricFamily MemClock = new("DCGM_FI_DEV_MEM_CLOCK", MetricType.Gauge, "Memory clock frequency (in MHz).");
        public static readonly MetricFamily MemoryTemp = new("DCGM_FI_DEV_MEMORY_TEMP", MetricType.Gauge, "Memory temperature (in C).");
        public static readonly MetricFamily GpuTemp = new("DCGM_FI_DEV_GPU_TEMP", MetricType.Gauge, "GPU temperature (in C).");
        public static readonly MetricFamily PowerUsage = new("DCGM_FI_DEV_POWER_USAGE", MetricType.Gauge, "Power draw (in W).");
        public static readonly MetricFamily TotalEnergyConsumption = new("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", MetricType.LegacyCounter, "Total energy consumption since boot (in mJ).");
        public static readonly MetricFamily PcieReplayCounter = new("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", MetricType.LegacyCounter, "Total number of PCIe retries.");
        public static readonly MetricFamily GpuUtil = new("DCGM_FI_DEV_GPU_UTIL", MetricType.Gauge, "GPU utilization (in %).");
        public static readonly MetricFamily MemCopyUtil = new("DCGM_FI_DEV_MEM_COPY_UTIL", MetricType.Gauge, "Memory utilization (in %).");
        public static readonly MetricFamily EncUtil = new("DCGM_FI_DEV_ENC_UTIL", MetricType.Gauge, "Encoder utilization (in %).");
        public static readonly MetricFamily DecUtil = new("DCGM_FI_DEV_DEC_UTIL", MetricType.Gauge, "Decoder utilization (in %).");
        public static readonly MetricFamily XidErrors = new("DCGM_FI_DEV_XID_ERRORS", MetricType.Gauge, "Value of the last XID error encountered.",
            Labels.XidErrorCode, Labels.XidErrorMessage);
        public static readonly MetricFamily FbFree = new("DCGM_FI_DEV_FB_FREE", MetricType.Gauge, "Framebuffer memory free (in MiB).");
        public static readonly MetricFamily FbUsed = new("DCGM_FI_DEV_FB_USED", MetricType.Gauge, "Framebuffer memory used (in MiB).");
        public static readonly MetricFamily FbReserved = new("DCGM_FI_DEV_FB_RESERVED", MetricType.Gauge, "Framebuffer memory reserved (in MiB).");
        public static readonly MetricFamily EccSbeVolatile = new("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", MetricType.LegacyCounter, "Total number of single-bit volatile ECC errors.");
        public static readonly MetricFamily EccDbeVolatile = new("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", MetricType.LegacyCounter, "Total number of double-bit volatile ECC errors.");
        public static readonly MetricFamily EccSbeAggregate = new("DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", MetricType.LegacyCounter, "Total number of single-bit persistent ECC errors.");
        public static readonly MetricFamily EccDbeAggregate = new("DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", MetricType.LegacyCounter, "Total number of double-bit persistent ECC errors.");
        public static readonly MetricFamily UncorrectableRemappedRows = new("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", MetricType.LegacyCounter, "Number of remapped rows for uncorrectable errors");
        public static readonly MetricFamily CorrectableRemappedRows = new("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", MetricType.LegacyCounter, "Number of remapped rows for correctable errors");
        public static readonly MetricFamily RowRemapFailure = new("DCGM_FI_DEV_ROW_REMAP_FAILURE", MetricType.Gauge, "Whether remapping of rows has failed");
    }

    /// <summary>PCI functions as sysfs shows them, whatever driver holds them (vfio-pci included).</summary>
    internal static class Pci
    {
        public static readonly MetricFamily DeviceInfo = new("aifactory_pci_device_info", MetricType.Gauge,
            "A GPU, NIC, NVMe, NVSwitch or vfio-bound PCI function (always 1), with its driver and place.",
            Labels.Address, Labels.Kind, Labels.Vendor, Labels.DeviceId, Labels.Driver, Labels.NumaNode, Labels.IommuGroup, Labels.PhysicalFunction);
        public static readonly MetricFamily LinkSpeed = new("aifactory_pci_link_speed_gigatransfers_per_second", MetricType.Gauge,
            "PCIe link speed now (current_link_speed), in GT/s.", Labels.Address);
        public static readonly MetricFamily LinkMaxSpeed = new("aifactory_pci_link_max_speed_gigatransfers_per_second", MetricType.Gauge,
            "PCIe link speed the device supports (max_link_speed), in GT/s.", Labels.Address);
        public static readonly MetricFamily LinkWidth = new("aifactory_pci_link_width_lanes", MetricType.Gauge,
            "PCIe link width now (current_link_width), in lanes.", Labels.Address);
        public static readonly MetricFamily LinkMaxWidth = new("aifactory_pci_link_max_width_lanes", MetricType.Gauge,
            "PCIe link width the device supports (max_link_width), in lanes.", Labels.Address);
        public static readonly MetricFamily LinkDegraded = new("aifactory_pci_link_degraded", MetricType.Gauge,
            "1 when the PCIe link runs with fewer lanes than both the device and the port above it support, or, for devices " +
            "other than GPUs and the other functions of a GPU's device (which share its link), slower than both support; a " +
            "card in a slower or narrower slot is not degraded, nor is a GPU's idle speed drop (see aifactory_pci_link_speed_reduced).", Labels.Address);
        public static readonly MetricFamily LinkSpeedReduced = new("aifactory_pci_link_speed_reduced", MetricType.Gauge,
            "1 when the PCIe link runs slower than both the device and the port above it support (current_link_speed below " +
            "both max_link_speed). Normal on an idle GPU, which drops its PCIe generation to save power; a fault when it stays " +
            "under load.", Labels.Address);
        public static readonly MetricFamily AerErrors = new("aifactory_pci_aer_errors", MetricType.Counter,
            "PCIe AER errors by kind since boot (aer_dev_correctable, aer_dev_nonfatal, aer_dev_fatal).", Labels.Address, Labels.Severity, Labels.Error);
        public static readonly MetricFamily VfioBoundDevices = new("aifactory_vfio_bound_devices", MetricType.Gauge,
            "PCI functions bound to vfio-pci, by kind.", Labels.Kind);
        public static readonly MetricFamily SriovVfs = new("aifactory_sriov_vfs", MetricType.Gauge,
            "Virtual functions enabled on an SR-IOV physical function (sriov_numvfs).", Labels.Address, Labels.Kind);
        public static readonly MetricFamily SriovMaxVfs = new("aifactory_sriov_max_vfs", MetricType.Gauge,
            "Virtual functions an SR-IOV physical function supports (sriov_totalvfs).", Labels.Address, Labels.Kind);
    }

    /// <summary>NUMA nodes: hugepages and CPUs.</summary>
    internal static class Numa
    {
        public static readonly MetricFamily HugepagesPages = new("aifactory_hugepages_pages", MetricType.Gauge,
            "Hugepages in the node's pool of one size (nr_hugepages).", Labels.NumaNode, Labels.PageSizeKiB);
        public static readonly MetricFamily HugepagesFreePages = new("aifactory_hugepages_free_pages", MetricType.Gauge,
            "Free hugepages in the node's pool of one size (free_hugepages).", Labels.NumaNode, Labels.PageSizeKiB);
        public static readonly MetricFamily HugepagesLeasedPages = new("aifactory_hugepages_leased_pages", MetricType.Gauge,
            "Hugepages of the node's pool of one size that leases hold.", Labels.NumaNode, Labels.PageSizeKiB);
        public static readonly MetricFamily Cpus = new("aifactory_numa_cpus", MetricType.Gauge,
            "Online CPUs of a NUMA node by use: reserved for the host, dedicated to leases, or shared.", Labels.NumaNode, Labels.CpuState);
    }

    /// <summary>Leases and what they hold.</summary>
    internal static class Leases
    {
        public static readonly MetricFamily Count = new("aifactory_leases", MetricType.Gauge,
            "Leases by state.", Labels.LeaseState);
        public static readonly MetricFamily Info = new("aifactory_lease_info", MetricType.Gauge,
            "A lease (always 1) with the VM that uses it.", Labels.Lease, Labels.Vm, Labels.LeaseState);
        public static readonly MetricFamily Device = new("aifactory_lease_device_info", MetricType.Gauge,
            "The host PCI address <-> lease <-> VM map (always 1).", Labels.Address, Labels.Lease, Labels.Vm, Labels.Kind);
        public static readonly MetricFamily Cpus = new("aifactory_lease_cpus", MetricType.Gauge,
            "CPUs a lease holds.", Labels.Lease);
        public static readonly MetricFamily NumaMisaligned = new("aifactory_lease_numa_misaligned", MetricType.Gauge,
            "1 when a lease's CPUs or memory sit on a NUMA node other than its devices' nodes.", Labels.Lease, Labels.Resource);
    }

    /// <summary>The TCP listener's TLS: the client-certificate revocation lists (<c>tls.client-crl</c>) in use.</summary>
    internal static class Tls
    {
        public static readonly MetricFamily ClientCrlReloadSuccess = new("aifactory_tls_client_crl_reload_success", MetricType.Gauge,
            "1 when tls.client-crl as it is on disk now is in use; 0 when its last change was refused (unreadable, not a valid CRL " +
            "of every tls.client-ca CA, out of date) and the CRLs loaded before stay in use (the agent's log says why).");
        public static readonly MetricFamily ClientCrlLoaded = new("aifactory_tls_client_crl_loaded_timestamp_seconds", MetricType.Gauge,
            "When the tls.client-crl CRLs in use were loaded (at start or by the last reload that succeeded), in seconds since the epoch.");
        public static readonly MetricFamily ClientCrlNextUpdate = new("aifactory_tls_client_crl_next_update_timestamp_seconds", MetricType.Gauge,
            "nextUpdate of each tls.client-crl CRL in use, by issuing CA, in seconds since the epoch: past it every client " +
            "certificate that CA issued is refused until a current CRL is installed.", Labels.Issuer);
    }

    /// <summary>The agent itself.</summary>
    internal static class Agent
    {
        public static readonly MetricFamily BuildInfo = new("aifactory_build_info", MetricType.Gauge,
            "The agent's version, commit and runtime (always 1).", Labels.Version, Labels.Commit, Labels.Runtime);
        public static readonly MetricFamily RpcDuration = new("aifactory_rpc_duration_seconds", MetricType.Histogram,
            "gRPC calls served, by full method name and status code, and how long they took.", Labels.Method, Labels.Code);
        public static readonly MetricFamily ProfileApplyDuration = new("aifactory_profile_apply_duration_seconds", MetricType.Histogram,
            "Node profile applications, by outcome, and how long they took.", Labels.Outcome);
        public static readonly MetricFamily ProfileApplies = new("aifactory_profile_applies", MetricType.Counter,
            "Node profile applications, by outcome (applied, unchanged, failed, refused).", Labels.Outcome);
        public static readonly MetricFamily DriftDetected = new("aifactory_drift_detected", MetricType.Counter,
            "Times the node was found to differ from its profile or its leases, by kind of difference: the kind of profile step that would undo it (bind, vfs, hugepages, cpus, mig, ...), invalid (the profile no longer plans) or lease.", Labels.Kind);
        public static readonly MetricFamily DiscoveryDuration = new("aifactory_discovery_duration_seconds", MetricType.Histogram,
            "Hardware discovery runs, by outcome, and how long they took.", Labels.Outcome);
        public static readonly MetricFamily NvmlUp = new("aifactory_nvml_up", MetricType.Gauge,
            "1 when NVML (libnvidia-ml, --nvml-library) is loaded and initialised, 0 when it is not (no NVIDIA driver, every GPU " +
            "on vfio-pci, the library missing): then no GPU series of dcgm-exporter's are reported, whatever GPUs the node has.");
        public static readonly MetricFamily NvmlErrors = new("aifactory_nvml_errors", MetricType.Counter,
            "NVML calls that returned an error, by function and return code.", Labels.Function, Labels.Code);
        public static readonly MetricFamily CollectorSuccess = new("aifactory_scrape_collector_success", MetricType.Gauge,
            "1 when the collector succeeded in this scrape, 0 when it failed.", Labels.Collector);
        public static readonly MetricFamily CollectorDuration = new("aifactory_scrape_collector_duration_seconds", MetricType.Gauge,
            "How long the collector took in this scrape.", Labels.Collector);
    }

    /// <summary>
    /// The agent's own process, with the names every Prometheus client library's process collector uses (client_golang,
    /// client_python, client_java), so the dashboards and alerts that watch exporters' footprints work unchanged; the GC
    /// series keep prometheus-net's names for .NET dashboards.
    /// </summary>
    internal static class Process
    {
        public static readonly MetricFamily CpuSeconds = new("process_cpu_seconds", MetricType.Counter,
            "Total user and system CPU time spent in seconds.");
        public static readonly MetricFamily ResidentMemory = new("process_resident_memory_bytes", MetricType.Gauge,
            "Resident memory size in bytes.");
        public static readonly MetricFamily VirtualMemory = new("process_virtual_memory_bytes", MetricType.Gauge,
            "Virtual memory size in bytes.");
        public static readonly MetricFamily StartTime = new("process_start_time_seconds", MetricType.Gauge,
            "Start time of the process since unix epoch in seconds.");
        public static readonly MetricFamily OpenFds = new("process_open_fds", MetricType.Gauge,
            "Number of open file descriptors.");
        public static readonly MetricFamily MaxFds = new("process_max_fds", MetricType.Gauge,
            "Maximum number of open file descriptors.");
        public static readonly MetricFamily GcCollections = new("dotnet_collection_count", MetricType.Counter,
            "GC collection count, by generation.", Labels.Generation);
        public static readonly MetricFamily GcAllocated = new("dotnet_gc_allocated_bytes", MetricType.Counter,
            "Bytes allocated on the managed heap since the process started.");
        public static readonly MetricFamily GcHeapSize = new("dotnet_gc_heap_size_bytes", MetricType.Gauge,
            "Managed heap in use after the last collection, in bytes.");
        public static readonly MetricFamily GcCommitted = new("dotnet_gc_committed_bytes", MetricType.Gauge,
            "Memory the GC has committed for the managed heap, in bytes.");
    }
}
