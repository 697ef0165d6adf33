using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AiFactory.Agent.Gpu;

/// <summary>One entry of a mig-parted config: which GPUs, MIG on or off, and the wanted profile counts.</summary>
/// <param name="Devices">GPU indexes; null for <c>devices: all</c>.</param>
/// <param name="DeviceFilter">PCI device ids (<c>0x233010DE</c>) the entry is limited to; empty for any.</param>
internal sealed record MigPartedEntry(IReadOnlyList<int>? Devices, bool MigEnabled, IReadOnlyList<uint> DeviceFilter, IReadOnlyDictionary<string, int> MigDevices);

/// <summary>
/// NVIDIA mig-parted's config file (<c>version: v1</c>, <c>mig-configs</c>: name → list of entries with
/// <c>devices</c>, <c>mig-enabled</c>, <c>mig-devices</c>, <c>device-filter</c>), read so operators keep their files.
/// Unknown keys are rejected, as mig-parted's own v1 schema does. Errors name the source, the line and column and the
/// problem, never a key or value of the file: the agent reads the file as root for whoever names it in a profile.
/// </summary>
internal sealed class MigPartedConfig
{
    private static readonly HashSet<string> EntryKeys = ["devices", "mig-enabled", "mig-devices", "device-filter"];

    private MigPartedConfig(IReadOnlyDictionary<string, IReadOnlyList<MigPartedEntry>> configs) => Configs = configs;

    public IReadOnlyDictionary<string, IReadOnlyList<MigPartedEntry>> Configs { get; }

    public static MigPartedConfig Parse(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            Configuration.YamlNesting.Check(text);
            stream.Load(new StringReader(text));
        }
        catch (Configuration.YamlTooDeepException ex)
        {
            throw new FormatException($"{source}: line {ex.Start.Line}, column {ex.Start.Column}: nested deeper than {Configuration.YamlNesting.MaxDepth} levels (stopped at depth {ex.Depth})");
        }
        catch (YamlException ex)
        {
            // Not ex.Message: YamlDotNet's messages may quote the text (an alias name), and that text is the file's.
            throw new FormatException($"{source}: line {ex.Start.Line}, column {ex.Start.Column}: not valid YAML");
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new FormatException($"{source}: expected a mapping with version and mig-configs");
        }

        string? version = null;
        YamlNode? versionNode = null;
        YamlMappingNode? configsNode = null;
        foreach ((YamlNode k, YamlNode v) in root.Children)
        {
            switch (Key(k))
            {
                case "version":
                    version = Scalar(v, "version", source);
                    versionNode = v;
                    break;
                case "mig-configs":
                    configsNode = v as YamlMappingNode ?? throw new FormatException($"{source}: {At(v)}: mig-configs: expected a mapping of config names");
                    break;
                default:
                    throw new FormatException($"{source}: {At(k)}: unknown key; v1 has version and mig-configs");
            }
        }

        if (version != "v1")
        {
            throw new FormatException(versionNode is null ? $"{source}: version: missing (v1)" : $"{source}: {At(versionNode)}: version: not supported (only v1)");
        }

        if (configsNode is null)
        {
            throw new FormatException($"{source}: mig-configs: missing");
        }

        var configs = new Dictionary<string, IReadOnlyList<MigPartedEntry>>(StringComparer.Ordinal);
        foreach ((YamlNode nameNode, YamlNode listNode) in configsNode.Children)
        {
            string name = Key(nameNode);
            if (listNode is not YamlSequenceNode list)
            {
                throw new FormatException($"{source}: {At(listNode)}: a mig-config: expected a list of entries");
            }

            configs[name] = [.. list.Children.Select(e => Entry(e, source))];
        }

        return new MigPartedConfig(configs);
    }

    /// <summary>What one GPU should get under a named config: null when no entry selects it.</summary>
    public (bool MigEnabled, IReadOnlyList<string> Profiles)? ForGpu(string config, int index, uint pciDeviceId)
    {
        if (!Configs.TryGetValue(config, out var entries))
        {
            throw new KeyNotFoundException($"no mig-config \"{config}\" (the file has {string.Join(", ", Configs.Keys)})");
        }

        foreach (MigPartedEntry e in entries)
        {
            if ((e.Devices is null || e.Devices.Contains(index)) && (e.DeviceFilter.Count == 0 || e.DeviceFilter.Contains(pciDeviceId)))
            {
                return (e.MigEnabled, [.. e.MigDevices.OrderBy(d => d.Key, StringComparer.Ordinal).SelectMany(d => Enumerable.Repeat(d.Key, d.Value))]);
            }
        }

        return null;
    }

    private static MigPartedEntry Entry(YamlNode node, string source)
    {
        if (node is not YamlMappingNode map)
        {
            throw new FormatException($"{source}: {At(node)}: an entry of a mig-config: expected a mapping");
        }

        IReadOnlyList<int>? devices = null;
        bool? enabled = null;
        var filter = new List<uint>();
        var migDevices = new Dictionary<string, int>(StringComparer.Ordinal);
        bool devicesSeen = false;
        foreach ((YamlNode k, YamlNode v) in map.Children)
        {
            string key = Key(k);
            string where = $"{source}: {At(v)}";
            if (!EntryKeys.Contains(key))
            {
                throw new FormatException($"{source}: {At(k)}: unknown key in an entry of a mig-config; known: {string.Join(", ", EntryKeys)}");
            }

            switch (key)
            {
                case "devices":
                    devicesSeen = true;
                    devices = v is YamlScalarNode { Value: "all" } ? null
                        : v is YamlSequenceNode seq ? [.. seq.Children.Select(c => DeviceIndex(c, source))]
                        : throw new FormatException($"{where}: devices: expected \"all\" or a list of GPU indexes");
                    break;
                case "mig-enabled":
                    enabled = Scalar(v, key, where) switch
                    {
                        "true" => true,
                        "false" => false,
                        _ => throw new FormatException($"{where}: mig-enabled: must be true or false"),
                    };
                    break;
                case "device-filter":
                    IEnumerable<YamlNode> items = v is YamlSequenceNode fs ? fs.Children : [v];
                    filter.AddRange(items.Select(i => ParseDeviceId(Scalar(i, key, where), $"{source}: {At(i)}")));
                    break;
                case "mig-devices":
                    if (v is not YamlMappingNode devs)
                    {
                        throw new FormatException($"{where}: mig-devices: expected a mapping of profile name to count");
                    }

                    foreach ((YamlNode pk, YamlNode pv) in devs.Children)
                    {
                        string count = Scalar(pv, "mig-devices", $"{source}: {At(pv)}");
                        migDevices[Key(pk)] = int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out int n)
                            ? n
                            : throw new FormatException($"{source}: {At(pv)}: mig-devices: a count must be a whole number");
                    }

                    break;
            }
        }

        if (!devicesSeen || enabled is null)
        {
            throw new FormatException($"{source}: {At(node)}: an entry of a mig-config: devices and mig-enabled are required");
        }

        return new MigPartedEntry(devices, enabled.Value, filter, migDevices);
    }

    private static uint ParseDeviceId(string value, string where) =>
        value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && uint.TryParse(value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint id)
            ? id
            : throw new FormatException($"{where}: device-filter: must be a PCI device id like 0x233010DE");

    private static int DeviceIndex(YamlNode node, string source) =>
        int.TryParse(Scalar(node, "devices", $"{source}: {At(node)}"), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            ? index
            : throw new FormatException($"{source}: {At(node)}: devices: must be \"all\" or a list of GPU indexes");

    /// <summary>Where <paramref name="node"/> starts in the file, which is all an error says of it.</summary>
    private static string At(YamlNode node) => string.Create(CultureInfo.InvariantCulture, $"line {node.Start.Line}, column {node.Start.Column}");

    private static string Key(YamlNode node) => (node as YamlScalarNode)?.Value ?? string.Empty;

    private static string Scalar(YamlNode node, string key, string where) =>
        (node as YamlScalarNode)?.Value ?? throw new FormatException($"{where}: {key}: expected a single value");
}
