using System.CommandLine;
using System.Globalization;
using AiFactory.Cli.Input;
using AiFactory.Cli.Output;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Grpc.Client;

namespace AiFactory.Cli.Lease;

/// <summary><c>aifactoryctl lease create|show|release|attach</c>: workload leases.</summary>
internal static class LeaseCommand
{
    private const string Service = "/aifactory.agent.v1.Leases/";

    public static Command Create()
    {
        var command = new Command("lease", "GPU/VF/CPU/hugepage leases for VMs");
        command.Subcommands.Add(CreateCommand());
        command.Subcommands.Add(ShowCommand());
        command.Subcommands.Add(ReleaseCommand());
        command.Subcommands.Add(AttachCommand());
        return command;
    }

    private static Command CreateCommand()
    {
        var owner = NonEmpty.Validated(new Option<string>("--owner") { Description = "who holds the lease (tenant or VM name)", Required = true });
        var gpus = WholeNumberOption.Create("--gpus", "whole GPUs for passthrough");
        var model = new Option<string?>("--gpu-model") { Description = "GPU model to match (case-insensitive): part of the pci.ids or NVML name, e.g. H100 or \"NVIDIA H100 80GB HBM3\", or the PCI id 10de:2330" };
        var nvlink = new Option<bool>("--nvlink") { Description = "require an NVLink-connected GPU set" };
        var mig = new Option<string?>("--mig") { Description = "one MIG instance of this profile, e.g. 1g.10gb" };
        var vfs = WholeNumberOption.Create("--vfs", "SR-IOV VFs of compute-fabric NICs (paired with the GPUs by default)");
        var unpaired = new Option<bool>("--vfs-unpaired") { Description = "do not pair VFs with GPUs under the same PCIe switch" };
        var vcpus = WholeNumberOption.Create("--vcpus", "dedicated vCPUs", required: true);
        var thread = new Option<string>("--thread-policy") { Description = "prefer | isolate | require", DefaultValueFactory = _ => "prefer" };
        var emulator = new Option<string>("--emulator-threads") { Description = "share (on the node profile's cpus.reserved; refused when it reserves none) | isolate (one extra dedicated physical core)", DefaultValueFactory = _ => "share" };
        var memory = new Option<string>("--memory") { Description = "guest memory, e.g. 256G, 512M", Required = true };
        var page = new Option<string>("--page-size") { Description = "4K | 2M | 1G", DefaultValueFactory = _ => "1G" };
        var numa = new Option<string>("--numa") { Description = "required | preferred", DefaultValueFactory = _ => "required" };
        var ttl = new Option<string?>("--ttl") { Description = "lifetime, e.g. 3600, 90m, 8h; none by default" };
        var dryRun = new Option<bool>("--dry-run") { Description = "plan only: reserve nothing" };
        var command = new Command("create", "plan and grant a lease; prints it");
        foreach (Option o in new Option[] { owner, gpus, model, nvlink, mig, vfs, unpaired, vcpus, thread, emulator, memory, page, numa, ttl, dryRun })
        {
            command.Options.Add(o);
        }

        command.SetAction(async (parse, ct) =>
        {
            LeaseSpec spec;
            try
            {
                spec = new LeaseSpec
                {
                    Owner = parse.GetValue(owner)!,
                    GpuCount = parse.GetValue(gpus),
                    GpuModel = parse.GetValue(model) ?? string.Empty,
                    GpuNvlink = parse.GetValue(nvlink),
                    MigProfile = parse.GetValue(mig) ?? string.Empty,
                    VfCount = parse.GetValue(vfs),
                    VfUnpaired = parse.GetValue(unpaired),
                    Vcpus = parse.GetValue(vcpus),
                    ThreadPolicy = parse.GetValue(thread)!.ToLowerInvariant() switch
                    {
                        "prefer" => CpuThreadPolicy.Prefer,
                        "isolate" => CpuThreadPolicy.Isolate,
                        "require" => CpuThreadPolicy.Require,
                        var v => throw new FormatException($"--thread-policy: \"{GlobalOptions.Quote(v)}\" is not prefer, isolate or require"),
                    },
                    EmulatorThreads = parse.GetValue(emulator)!.ToLowerInvariant() switch
                    {
                        "share" => EmulatorThreadPolicy.Share,
                        "isolate" => EmulatorThreadPolicy.Isolate,
                        var v => throw new FormatException($"--emulator-threads: \"{GlobalOptions.Quote(v)}\" is not share or isolate"),
                    },
                    MemoryBytes = ParseSize(parse.GetValue(memory)!),
                    PageSize = parse.GetValue(page)!.ToUpperInvariant() switch
                    {
                        "4K" => LeasePageSize._4K,
                        "2M" => LeasePageSize._2M,
                        "1G" => LeasePageSize._1G,
                        var v => throw new FormatException($"--page-size: \"{GlobalOptions.Quote(v)}\" is not 4K, 2M or 1G"),
                    },
                    NumaPolicy = parse.GetValue(numa)!.ToLowerInvariant() switch
                    {
                        "required" => NumaPolicy.Required,
                        "preferred" => NumaPolicy.Preferred,
                        var v => throw new FormatException($"--numa: \"{GlobalOptions.Quote(v)}\" is not required or preferred"),
                    },
                    TtlSeconds = parse.GetValue(ttl) is { } t ? ParseSeconds(t) : 0,
                };
            }
            catch (FormatException ex)
            {
                Console.Error.WriteLine("aifactoryctl: " + ex.Message);
                return ExitCodes.Usage;
            }

            return await Call(parse, ct, "Lease", new CreateLeaseRequest { Spec = spec, DryRun = parse.GetValue(dryRun) }, Contracts.Agent.V1.Lease.Parser, Print).ConfigureAwait(false);
        });
        return command;
    }

    private static Command ShowCommand()
    {
        var id = NonEmpty.Validated(new Argument<string?>("id") { Description = "a lease id; all holding leases when omitted", Arity = ArgumentArity.ZeroOrOne });
        var all = new Option<bool>("--all") { Description = "also released and expired leases" };
        var command = new Command("show", "show one lease, or list them");
        command.Arguments.Add(id);
        command.Options.Add(all);
        command.SetAction((parse, ct) => parse.GetValue(id) is { } one
            ? Call(parse, ct, "GetLease", new GetLeaseRequest { Id = one }, Contracts.Agent.V1.Lease.Parser, Print)
            : ListAll(parse, ct, parse.GetValue(all)));
        return command;
    }

    private static Command ReleaseCommand()
    {
        var id = NonEmpty.Validated(new Argument<string>("id") { Description = "the lease id" });
        var force = new Option<bool>("--force") { Description = "release even while the attached domain runs (its devices go back to their host drivers under the guest)" };
        var command = new Command("release", "release a lease: devices go back to their drivers, CPUs and pages are free again; refused while its domain runs");
        command.Arguments.Add(id);
        command.Options.Add(force);
        command.SetAction((parse, ct) => Call(parse, ct, "Release", new ReleaseLeaseRequest { Id = parse.GetValue(id)!, Force = parse.GetValue(force) }, Contracts.Agent.V1.Lease.Parser, Print));
        return command;
    }

    private static Command AttachCommand()
    {
        var id = NonEmpty.Validated(new Argument<string>("id") { Description = "the lease id" });
        var xml = new Option<string?>("--domain-xml") { Description = "a libvirt domain XML file to merge the lease into and define" };
        var name = new Option<string?>("--domain") { Description = "an already defined libvirt domain" };
        var uri = new Option<string?>("--uri") { Description = "libvirt URI, one of the agent's libvirt-uris setting (default: its first, qemu:///system)" };
        var start = new Option<bool>("--start") { Description = "start the domain after defining it (a running domain is pinned live instead)" };
        var command = new Command("attach", "wire a lease into a libvirt domain: hostdevs, vCPU/emulator pins, numatune, hugepages, guest NUMA");
        command.Arguments.Add(id);
        foreach (Option o in new Option[] { xml, name, uri, start })
        {
            command.Options.Add(o);
        }

        command.SetAction((parse, ct) =>
        {
            var request = new AttachLeaseRequest { Id = parse.GetValue(id)!, DomainName = parse.GetValue(name) ?? string.Empty, LibvirtUri = parse.GetValue(uri) ?? string.Empty, Start = parse.GetValue(start) };
            if (parse.GetValue(xml) is { } file)
            {
                if (RequestFile.ReadOrReport("--domain-xml", file) is not { } text)
                {
                    return Task.FromResult(ExitCodes.Usage);
                }

                request.DomainXml = text;
            }

            return Call(parse, ct, "AttachLease", request, AttachLeaseResponse.Parser, r =>
            {
                Print(r.Lease);
                if (r.PendingRestart)
                {
                    Console.Out.WriteLine("  note: " + r.Note);
                }

                Console.Out.WriteLine();
                Console.Out.WriteLine(r.DomainXml);
            });
        });
        return command;
    }

    private static async Task<int> Call<TResponse>(ParseResult parse, CancellationToken ct, string method, Google.Protobuf.IMessage request, Google.Protobuf.MessageParser<TResponse> parser, Action<TResponse> print)
        where TResponse : Google.Protobuf.IMessage<TResponse>
    {
        using GrpcChannel channel = GlobalOptions.OpenChannel(parse);
        try
        {
            TResponse response = await channel.UnaryAsync(Service + method, request, parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
            if (parse.GetValue(GlobalOptions.Json))
            {
                ProtoJson.Print(response);
            }
            else
            {
                print(response);
            }

            return ExitCodes.Ok;
        }
        catch (RpcException ex)
        {
            return RpcErrors.Report(ex);
        }
    }

    /// <summary>ListLeases page after page (each at most 1 MiB), printed as one listing.</summary>
    private static async Task<int> ListAll(ParseResult parse, CancellationToken ct, bool includeEnded)
    {
        using GrpcChannel channel = GlobalOptions.OpenChannel(parse);
        try
        {
            var all = new ListLeasesResponse();
            string token = string.Empty;
            do
            {
                ListLeasesResponse page = await channel.UnaryAsync(Service + "ListLeases", new ListLeasesRequest { IncludeEnded = includeEnded, PageToken = token },
                    ListLeasesResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                all.Leases.AddRange(page.Leases);
                token = page.NextPageToken;
            }
            while (token.Length > 0);

            if (parse.GetValue(GlobalOptions.Json))
            {
                ProtoJson.Print(all);
            }
            else
            {
                PrintList(all);
            }

            return ExitCodes.Ok;
        }
        catch (RpcException ex)
        {
            return RpcErrors.Report(ex);
        }
    }

    private static void Print(Contracts.Agent.V1.Lease l)
    {
        TextWriter o = Console.Out;
        o.WriteLine($"{(l.Id.Length > 0 ? l.Id : "(dry run)")}  owner {l.Owner}  {StateName(l.State)}" + (l.Domain.Length > 0 ? $"  domain {l.Domain}" : string.Empty) +
            (l.ExpiresUnixMs > 0 ? $"  expires {DateTimeOffset.FromUnixTimeMilliseconds(l.ExpiresUnixMs):u}" : string.Empty));
        foreach (LeasedDevice d in l.Devices)
        {
            string role = d.Role switch { LeasedDeviceRole.Gpu => "gpu", LeasedDeviceRole.VirtualFunction => "vf", _ => "companion" };
            o.WriteLine($"  {role,-9} {d.Address}  node {d.NumaNode}  {d.Model}  (was {(d.OriginalDriver.Length > 0 ? d.OriginalDriver : "unbound")})" + (d.PairedGpu.Length > 0 ? $"  paired with {d.PairedGpu}" : string.Empty));
        }

        if (l.Mig is { } mig)
        {
            o.WriteLine($"  mig       {mig.Profile} on {mig.Gpu} at {mig.PlacementStart}:{mig.PlacementSize}");
        }

        string page = l.PageSize switch { LeasePageSize._4K => "4K", LeasePageSize._2M => "2M", _ => "1G" };
        for (int i = 0; i < l.Nodes.Count; i++)
        {
            LeaseNode n = l.Nodes[i];
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  cell {i} = host node {n.Node}: {n.VcpuCpus.Count} vCPU(s) on CPUs {string.Join(",", n.VcpuCpus)}, {n.MemoryBytes >> 20} MiB in {page} pages") +
                (n.ReservedSiblings.Length > 0 ? $", idle siblings {n.ReservedSiblings}" : string.Empty));
        }

        o.WriteLine($"  emulator threads on {(l.EmulatorCpus.Length > 0 ? l.EmulatorCpus : "-")}{(l.EmulatorIsolated ? " (dedicated)" : " (shared)")}");
        foreach (string s in l.Spill)
        {
            o.WriteLine("  spill: " + s);
        }

        foreach (string s in l.NotRestored)
        {
            o.WriteLine("  not restored: " + s);
        }

        if (l.FragmentationAfter is { } f)
        {
            o.WriteLine($"  left whole: {f.FreeWholeGpus} GPU(s), {f.FreeWholeNumaNodes} NUMA node(s), {f.FreeWholeCores} core(s); {f.FreeCpus} free CPU(s), {f.SplitCores} split core(s)");
        }
    }

    private static void PrintList(ListLeasesResponse r) => WriteList(r, Console.Out);

    /// <summary>The lease table; a MIG lease shows its profile under GPUS (it holds no whole GPU).</summary>
    internal static void WriteList(ListLeasesResponse r, TextWriter o)
    {
        if (r.Leases.Count == 0)
        {
            o.WriteLine("no leases");
            return;
        }

        // Each column as wide as its widest cell (an owner is free text, a MIG profile may be "mig 1g.10gb+me").
        var rows = r.Leases.Select(l => new[]
        {
            l.Id,
            l.Owner,
            StateName(l.State),
            l.Mig is { } mig ? "mig " + mig.Profile : l.Devices.Count(d => d.Role == LeasedDeviceRole.Gpu).ToString(CultureInfo.InvariantCulture),
            l.Devices.Count(d => d.Role == LeasedDeviceRole.VirtualFunction).ToString(CultureInfo.InvariantCulture),
            l.Nodes.Sum(n => n.VcpuCpus.Count).ToString(CultureInfo.InvariantCulture),
            Size(l.Nodes.Aggregate(0UL, (a, n) => a + n.MemoryBytes)),
            string.Join(",", l.Nodes.Select(n => n.Node.ToString(CultureInfo.InvariantCulture))),
        }).ToList();
        string[] header = ["ID", "OWNER", "STATE", "GPUS", "VFS", "VCPUS", "MEMORY", "NODES"];
        bool[] right = [false, false, false, false, true, true, true, false];
        int[] widths = [.. header.Select((h, i) => rows.Aggregate(h.Length, (w, row) => Math.Max(w, row[i].Length)))];
        foreach (string[] row in rows.Prepend(header))
        {
            o.WriteLine(string.Join(' ', row.Select((cell, i) => i == row.Length - 1 ? cell : right[i] ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]))));
        }
    }

    /// <summary>A byte count exactly, in the largest of T, G, M, K that divides it ("1536M", not a rounded "1G").</summary>
    internal static string Size(ulong bytes)
    {
        foreach ((int shift, char unit) in new[] { (40, 'T'), (30, 'G'), (20, 'M'), (10, 'K') })
        {
            if (bytes != 0 && bytes % (1UL << shift) == 0)
            {
                return (bytes >> shift).ToString(CultureInfo.InvariantCulture) + unit;
            }
        }

        return bytes.ToString(CultureInfo.InvariantCulture);
    }

    private static string StateName(LeaseState s) => s switch
    {
        LeaseState.Active => "active",
        LeaseState.Attached => "attached",
        LeaseState.Released => "released",
        LeaseState.Expired => "expired",
        LeaseState.Granting => "granting",
        _ => "unknown",
    };

    /// <summary>"256G", "512M", "1T", or plain bytes.</summary>
    internal static ulong ParseSize(string text)
    {
        string t = text.Trim().ToUpperInvariant().TrimEnd('B').TrimEnd('I');
        ulong unit = t.Length > 0 ? t[^1] switch { 'K' => 1UL << 10, 'M' => 1UL << 20, 'G' => 1UL << 30, 'T' => 1UL << 40, _ => 1 } : 1;
        string digits = unit == 1 ? t : t[..^1];
        string quoted = GlobalOptions.Quote(text);
        if (digits.Length > 0 && digits.All(char.IsAsciiDigit) && (!ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out ulong big) || big > ulong.MaxValue / unit))
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"--memory: \"{quoted}\" is too large: at most {ulong.MaxValue} bytes"));
        }

        return ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n)
            ? n * unit
            : throw new FormatException($"--memory: \"{quoted}\" is not a size like 256G or 512M");
    }

    /// <summary>
    /// "3600", "90m", "8h", "2d"; 0 for none. A negative TTL, or one of more seconds than <c>ttl_seconds</c> (an int64)
    /// carries, is refused here: the product would wrap around to a lease that expires at once or is "in the past".
    /// </summary>
    internal static long ParseSeconds(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        long unit = t.Length > 0 ? t[^1] switch { 's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86400, _ => 0 } : 0;
        string digits = unit == 0 ? t : t[..^1];
        string quoted = GlobalOptions.Quote(text);
        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n))
        {
            throw new FormatException(digits.Length > 0 && digits.TrimStart('+').All(char.IsAsciiDigit)
                ? TooLong(quoted)
                : $"--ttl: \"{quoted}\" is not a duration like 3600, 90m or 8h");
        }

        if (n < 0)
        {
            throw new FormatException($"--ttl: \"{quoted}\" is negative: a lease's lifetime must be positive (or 0 for none)");
        }

        try
        {
            return checked(n * Math.Max(1, unit));
        }
        catch (OverflowException)
        {
            throw new FormatException(TooLong(quoted));
        }

        static string TooLong(string quoted) =>
            string.Create(CultureInfo.InvariantCulture, $"--ttl: \"{quoted}\" is too long: a lease's TTL is at most {long.MaxValue} seconds");
    }
}
