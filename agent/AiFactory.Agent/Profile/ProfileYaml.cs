using System.Globalization;
using AiFactory.Agent.Gpu;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AiFactory.Agent.Profile;

/// <summary>
/// Reads a node profile (<c>version: v1</c>) from YAML through YamlDotNet's representation model (no reflection:
/// AOT). Unknown keys are rejected; every error names the field (<c>sriov[0].numVfs</c>) and the reason, and all
/// errors are reported at once.
/// </summary>
internal static class ProfileYaml
{
    private static readonly string[] TopKeys = ["version", "vfio", "sriov", "mig", "hugepages", "cpus", "services"];

    /// <summary>The most a profile may hold, as for agent.yaml; a large server's profile takes a few KiB.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>
    /// Parses a profile; throws <see cref="ProfileFormatException"/> with every error. A text over <see cref="MaxBytes"/>
    /// or nested deeper than <see cref="Configuration.YamlNesting.MaxDepth"/> is refused before it is loaded, and
    /// <paramref name="cancellationToken"/> (a call's deadline) stops that check.
    /// </summary>
    public static NodeProfile Parse(string text, CancellationToken cancellationToken = default)
    {
        var errors = new List<ProfileValidationError>();
        if (text.Length > MaxBytes || System.Text.Encoding.UTF8.GetByteCount(text) > MaxBytes)
        {
            throw new ProfileFormatException([new ProfileValidationError("(document)", $"is larger than {MaxBytes / 1024 / 1024} MiB; a profile is a few KiB")]);
        }

        var stream = new YamlStream();
        try
        {
            Configuration.YamlNesting.Check(text, cancellationToken);
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw new ProfileFormatException([new ProfileValidationError($"line {ex.Start.Line}", "not valid YAML: " + ex.Message)]);
        }

        if (stream.Documents.Count > 1)
        {
            // A later document would be silently ignored: the operator meant it to count, or it is a leftover.
            throw new ProfileFormatException([new ProfileValidationError($"line {stream.Documents[1].RootNode.Start.Line}",
                $"a second YAML document (after ---): a profile is one document ({stream.Documents.Count} found); merge them or remove the rest")]);
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new ProfileFormatException([new ProfileValidationError("(document)", "must be a mapping with version: v1")]);
        }

        var profile = new NodeProfile();
        Keys(root, string.Empty, TopKeys, errors);
        string? version = Scalar(root, "version", "version", errors);
        if (version is null)
        {
            errors.Add(new("version", "missing: this agent reads version: v1"));
        }
        else if (version != NodeProfile.CurrentVersion)
        {
            errors.Add(new("version", $"\"{version}\" is not supported: this agent reads version: v1"));
        }

        if (Child(root, "vfio") is { } vfioNode)
        {
            if (vfioNode is YamlMappingNode vfio)
            {
                Keys(vfio, "vfio.", ["devices", "hostDevices"], errors);
                profile = profile with { Vfio = new VfioProfile(Selectors(vfio, "devices", "vfio.devices", errors), Selectors(vfio, "hostDevices", "vfio.hostDevices", errors)) };
            }
            else
            {
                errors.Add(new("vfio", "must be a mapping with devices: and hostDevices:"));
            }
        }

        profile = profile with
        {
            Sriov = Items(root, "sriov", errors).Select(x => Sriov(x.Node, x.Field, errors)).OfType<SriovProfile>().ToList(),
            Hugepages = Items(root, "hugepages", errors).Select(x => Hugepages(x.Node, x.Field, errors)).OfType<HugepageProfile>().ToList(),
            Services = Items(root, "services", errors).Select(x => Service(x.Node, x.Field, errors)).OfType<ServiceProfile>().ToList(),
        };

        if (Child(root, "mig") is { } migNode)
        {
            profile = profile with { Mig = Mig(migNode, errors) };
        }

        if (Child(root, "cpus") is { } cpusNode)
        {
            if (cpusNode is YamlMappingNode cpus)
            {
                Keys(cpus, "cpus.", ["reserved", "units"], errors);
                string? reserved = Scalar(cpus, "reserved", "cpus.reserved", errors);
                IReadOnlyList<string> units = Child(cpus, "units") is null ? CpuProfile.DefaultUnits : Strings(cpus, "units", "cpus.units", errors);
                if (reserved is null)
                {
                    errors.Add(new("cpus.reserved", "missing: the host's CPUs in list format, e.g. 0-3"));
                }
                else if (!CpuSet.TryParse(reserved, out CpuSet? set, out string? why))
                {
                    errors.Add(new("cpus.reserved", why));
                }
                else
                {
                    foreach (string unit in units)
                    {
                        if (!ValidUnit(unit))
                        {
                            errors.Add(new("cpus.units", $"\"{unit}\" is not a systemd slice or scope name"));
                        }
                    }

                    profile = profile with { Cpus = new CpuProfile(set, units) };
                }
            }
            else
            {
                errors.Add(new("cpus", "must be a mapping with reserved:"));
            }
        }

        if (errors.Count > 0)
        {
            throw new ProfileFormatException(errors);
        }

        return profile;
    }

    /// <summary>
    /// Reads the mig-parted file named by <c>mig.partedConfig</c> (mig-parted's own v1 format) into the profile;
    /// a missing or invalid file is a validation error on that field.
    /// </summary>
    public static NodeProfile ImportPartedConfig(NodeProfile profile, Func<string, string> readFile)
    {
        if (profile.Mig is not { PartedSource: { } path } mig)
        {
            return profile;
        }

        MigPartedConfig config;
        try
        {
            config = MigPartedConfig.Parse(readFile(path), path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            throw new ProfileFormatException([new ProfileValidationError("mig.partedConfig", ex.Message)]);
        }

        var layouts = config.Configs.ToDictionary(
            c => c.Key,
            c => (IReadOnlyList<MigPartedLayout>)[.. c.Value.Select(e => new MigPartedLayout(e.Devices, e.DeviceFilter, e.MigEnabled,
                [.. e.MigDevices.OrderBy(d => d.Key, StringComparer.Ordinal).SelectMany(d => Enumerable.Repeat(d.Key, d.Value))]))],
            StringComparer.Ordinal);
        return profile with { Mig = mig with { PartedConfigs = layouts } };
    }

    private static MigSection? Mig(YamlNode node, List<ProfileValidationError> errors)
    {
        if (node is not YamlMappingNode m)
        {
            errors.Add(new("mig", "must be a mapping with gpus: (and partedConfig: to import a mig-parted file)"));
            return null;
        }

        Keys(m, "mig.", ["gpus", "partedConfig"], errors);
        string? parted = Scalar(m, "partedConfig", "mig.partedConfig", errors);
        var gpus = new List<MigGpuProfile>();
        foreach ((YamlNode item, string field) in Items(m, "gpus", errors, "mig.gpus"))
        {
            if (item is not YamlMappingNode g)
            {
                errors.Add(new(field, "must be a mapping with gpu: and layout: or config:"));
                continue;
            }

            Keys(g, field + ".", ["gpu", "enabled", "layout", "config"], errors);
            string? gpu = Scalar(g, "gpu", field + ".gpu", errors);
            string? enabledText = Scalar(g, "enabled", field + ".enabled", errors);
            string? config = Scalar(g, "config", field + ".config", errors);
            int before = errors.Count;
            MigGpuSelector? selector = null;
            if (gpu is null)
            {
                errors.Add(new(field + ".gpu", "missing: an NVML index, a PCI address or a selector (nvidia-gpus)"));
            }
            else if (int.TryParse(gpu, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                selector = new MigGpuSelector(index, null);
            }
            else if (DeviceSelector.TryParse(gpu, out DeviceSelector? s, out string? why))
            {
                selector = new MigGpuSelector(null, s);
            }
            else
            {
                errors.Add(new(field + ".gpu", why));
            }

            bool enabled = true;
            if (enabledText is not null && !bool.TryParse(enabledText, out enabled))
            {
                errors.Add(new(field + ".enabled", $"\"{enabledText}\" is not true or false"));
            }

            List<MigLayoutItem>? layout = null;
            if (Child(g, "layout") is not null)
            {
                layout = [];
                IReadOnlyList<string> texts = Strings(g, "layout", field + ".layout", errors);
                for (int i = 0; i < texts.Count; i++)
                {
                    if (MigItem(texts[i]) is { } parsed)
                    {
                        layout.Add(parsed);
                    }
                    else
                    {
                        errors.Add(new($"{field}.layout[{i}]", $"\"{texts[i]}\" is not a MIG profile (3g.40gb) or a profile with a placement start (3g.40gb@4)"));
                    }
                }
            }

            if (config is not null && layout is not null)
            {
                errors.Add(new(field, "has both layout: and config:; give one"));
            }
            else if (config is null && layout is null && enabled)
            {
                errors.Add(new(field, "needs layout: (a list of profiles) or config: (a layout of the mig-parted file), or enabled: false"));
            }
            else if (config is not null && parted is null)
            {
                errors.Add(new(field + ".config", $"names mig-parted layout \"{config}\", but mig.partedConfig (the file to import) is not set"));
            }

            if (errors.Count == before && selector is not null)
            {
                gpus.Add(new MigGpuProfile(selector, enabled, enabled ? layout : [], config));
            }
        }

        return new MigSection(gpus, new Dictionary<string, IReadOnlyList<MigPartedLayout>>(StringComparer.Ordinal), parted);
    }

    /// <summary>"3g.40gb" or "3g.40gb@4".</summary>
    private static MigLayoutItem? MigItem(string text)
    {
        int at = text.IndexOf('@', StringComparison.Ordinal);
        string name = at < 0 ? text : text[..at];
        if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '+' or '-' or '_'))
        {
            return null;
        }

        if (at < 0)
        {
            return new MigLayoutItem(name, null);
        }

        return uint.TryParse(text.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint start) ? new MigLayoutItem(name, start) : null;
    }

    private static SriovProfile? Sriov(YamlNode node, string field, List<ProfileValidationError> errors)
    {
        if (node is not YamlMappingNode m)
        {
            errors.Add(new(field, "must be a mapping with pf: and numVfs:"));
            return null;
        }

        Keys(m, field + ".", ["pf", "numVfs", "driversAutoprobe", "vfDriver"], errors);
        string? pf = Scalar(m, "pf", field + ".pf", errors);
        string? numVfs = Scalar(m, "numVfs", field + ".numVfs", errors);
        string? autoprobe = Scalar(m, "driversAutoprobe", field + ".driversAutoprobe", errors);
        string? vfDriver = Scalar(m, "vfDriver", field + ".vfDriver", errors);
        int before = errors.Count;
        if (!PciAddress.TryParse(pf, out PciAddress address))
        {
            errors.Add(new(field + ".pf", pf is null ? "missing: the PF's PCI address" : $"\"{pf}\" is not a PCI address (0000:41:00.0)"));
        }

        if (!int.TryParse(numVfs, NumberStyles.None, CultureInfo.InvariantCulture, out int count))
        {
            errors.Add(new(field + ".numVfs", numVfs is null ? "missing" : $"\"{numVfs}\" is not a count"));
        }

        bool? probe = null;
        if (autoprobe is not null)
        {
            if (!bool.TryParse(autoprobe, out bool b))
            {
                errors.Add(new(field + ".driversAutoprobe", $"\"{autoprobe}\" is not true or false"));
            }

            probe = b;
        }

        return errors.Count > before ? null : new SriovProfile(address, count, probe, vfDriver is "host" ? null : vfDriver);
    }

    private static HugepageProfile? Hugepages(YamlNode node, string field, List<ProfileValidationError> errors)
    {
        if (node is not YamlMappingNode m)
        {
            errors.Add(new(field, "must be a mapping with node:, size: and count:"));
            return null;
        }

        Keys(m, field + ".", ["node", "size", "count"], errors);
        string? nodeId = Scalar(m, "node", field + ".node", errors);
        string? size = Scalar(m, "size", field + ".size", errors);
        string? count = Scalar(m, "count", field + ".count", errors);
        int before = errors.Count;
        if (!int.TryParse(nodeId, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            errors.Add(new(field + ".node", nodeId is null ? "missing" : $"\"{nodeId}\" is not a NUMA node id"));
        }

        long? kib = size switch
        {
            "2M" or "2MB" or "2Mi" or "2048kB" => 2048,
            "1G" or "1GB" or "1Gi" or "1048576kB" => 1048576,
            "16G" or "16Gi" => 16777216,
            "32M" or "32Mi" => 32768,
            "512M" or "512Mi" => 524288,
            _ => null,
        };
        if (kib is null)
        {
            errors.Add(new(field + ".size", size is null ? "missing: 2M or 1G" : $"\"{size}\" is not a hugepage size (2M, 1G)"));
        }

        if (!long.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out long c))
        {
            errors.Add(new(field + ".count", count is null ? "missing" : $"\"{count}\" is not a page count"));
        }

        return errors.Count > before ? null : new HugepageProfile(n, kib!.Value, c);
    }

    private static ServiceProfile? Service(YamlNode node, string field, List<ProfileValidationError> errors)
    {
        if (node is not YamlMappingNode m)
        {
            errors.Add(new(field, "must be a mapping with name: and holds:"));
            return null;
        }

        Keys(m, field + ".", ["name", "holds"], errors);
        string? name = Scalar(m, "name", field + ".name", errors);
        if (name is null || !ValidUnit(name))
        {
            errors.Add(new(field + ".name", name is null ? "missing" : $"\"{name}\" is not a unit name"));
            return null;
        }

        return new ServiceProfile(name, Selectors(m, "holds", field + ".holds", errors));
    }

    private static bool ValidUnit(string name) =>
        name.Length is > 0 and < 256 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@' or ':' or '\\') && name[0] != '-';

    private static List<DeviceSelector> Selectors(YamlMappingNode m, string key, string field, List<ProfileValidationError> errors)
    {
        var result = new List<DeviceSelector>();
        IReadOnlyList<string> texts = Strings(m, key, field, errors);
        for (int i = 0; i < texts.Count; i++)
        {
            if (DeviceSelector.TryParse(texts[i], out DeviceSelector? s, out string? why))
            {
                result.Add(s);
            }
            else
            {
                errors.Add(new($"{field}[{i}]", why));
            }
        }

        return result;
    }

    private static List<string> Strings(YamlMappingNode m, string key, string field, List<ProfileValidationError> errors)
    {
        YamlNode? node = Child(m, key);
        if (node is null)
        {
            return [];
        }

        if (node is not YamlSequenceNode seq)
        {
            errors.Add(new(field, "must be a list"));
            return [];
        }

        var result = new List<string>();
        for (int i = 0; i < seq.Children.Count; i++)
        {
            if (seq.Children[i] is YamlScalarNode { Value: { } v })
            {
                result.Add(v);
            }
            else
            {
                errors.Add(new($"{field}[{i}]", "must be a single value"));
            }
        }

        return result;
    }

    private static IEnumerable<(YamlNode Node, string Field)> Items(YamlMappingNode root, string key, List<ProfileValidationError> errors, string? fieldName = null)
    {
        string name = fieldName ?? key;
        YamlNode? node = Child(root, key);
        if (node is null)
        {
            return [];
        }

        if (node is not YamlSequenceNode seq)
        {
            errors.Add(new(name, "must be a list"));
            return [];
        }

        return seq.Children.Select((n, i) => (n, $"{name}[{i}]")).ToList();
    }

    private static void Keys(YamlMappingNode m, string prefix, string[] known, List<ProfileValidationError> errors)
    {
        foreach (YamlNode k in m.Children.Keys)
        {
            string name = (k as YamlScalarNode)?.Value ?? string.Empty;
            if (Array.IndexOf(known, name) < 0)
            {
                errors.Add(new(prefix + name, $"unknown key (line {k.Start.Line}); known here: {string.Join(", ", known)}"));
            }
        }
    }

    private static YamlNode? Child(YamlMappingNode m, string key) =>
        m.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? v) ? v : null;

    private static string? Scalar(YamlMappingNode m, string key, string field, List<ProfileValidationError> errors)
    {
        YamlNode? node = Child(m, key);
        if (node is null)
        {
            return null;
        }

        if (node is YamlScalarNode s)
        {
            return s.Value;
        }

        errors.Add(new(field, "must be a single value"));
        return null;
    }
}
