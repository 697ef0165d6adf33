namespace AiFactory.Agent.Metrics.Exposition;

/// <summary>
/// One metric family: its name, help text, type and label keys. Declared once, in <see cref="MetricNames"/>;
/// collectors only pass label values, in the order of <see cref="LabelKeys"/>.
/// </summary>
internal sealed class MetricFamily
{
    public MetricFamily(string name, MetricType type, string help, params string[] labelKeys)
    {
        if (!IsValidName(name))
        {
            throw new ArgumentException($"invalid metric name \"{name}\"", nameof(name));
        }

        if (type == MetricType.Counter && name.EndsWith("_total", StringComparison.Ordinal))
        {
            throw new ArgumentException($"counter \"{name}\": declare the family name without _total; samples get it", nameof(name));
        }

        foreach (string key in labelKeys)
        {
            if (!IsValidLabelKey(key) || key == "le")
            {
                throw new ArgumentException($"invalid label key \"{key}\" on \"{name}\"", nameof(labelKeys));
            }
        }

        Name = name;
        Type = type;
        Help = help;
        LabelKeys = labelKeys;
        SampleName = type == MetricType.Counter ? name + "_total" : name;
        Utf8 = new EncodedNames(this);
    }

    /// <summary>The family name (for counters, without <c>_total</c>).</summary>
    public string Name { get; }

    /// <summary>The name on the samples (for counters, with <c>_total</c>).</summary>
    public string SampleName { get; }

    public MetricType Type { get; }

    public string Help { get; }

    /// <summary>The label keys, in the order collectors pass values.</summary>
    public IReadOnlyList<string> LabelKeys { get; }

    /// <summary>The names as UTF-8 bytes, encoded once.</summary>
    internal EncodedNames Utf8 { get; }

    public override string ToString() => Name;

    /// <summary><c>[a-zA-Z_:][a-zA-Z0-9_:]*</c>.</summary>
    public static bool IsValidName(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }

        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' or ':' || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>[a-zA-Z_][a-zA-Z0-9_]*</c>, not starting with <c>__</c> (reserved).</summary>
    public static bool IsValidLabelKey(string key)
    {
        if (key.Length == 0 || key.StartsWith("__", StringComparison.Ordinal))
        {
            return false;
        }

        for (int i = 0; i < key.Length; i++)
        {
            char c = key[i];
            bool ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' || (i > 0 && c is >= '0' and <= '9');
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Pre-encoded UTF-8 forms of the names and label keys.</summary>
    internal sealed class EncodedNames
    {
        public EncodedNames(MetricFamily family)
        {
            Sample = System.Text.Encoding.UTF8.GetBytes(family.SampleName);
            Bucket = System.Text.Encoding.UTF8.GetBytes(family.Name + "_bucket");
            Sum = System.Text.Encoding.UTF8.GetBytes(family.Name + "_sum");
            Count = System.Text.Encoding.UTF8.GetBytes(family.Name + "_count");
            LabelKeys = family.LabelKeys.Select(k => System.Text.Encoding.UTF8.GetBytes(k)).ToArray();
        }

        public byte[] Sample { get; }

        public byte[] Bucket { get; }

        public byte[] Sum { get; }

        public byte[] Count { get; }

        public byte[][] LabelKeys { get; }
    }
}
