using System.Text;

namespace AiFactory.Agent.Metrics.Exposition;

/// <summary>
/// Label pairs rendered once as escaped UTF-8 (<c>k="v",k2="v2"</c>, no braces), so that a set shared by many
/// samples (the labels of one GPU) is escaped and encoded once per scrape, not once per sample.
/// </summary>
internal sealed class LabelSet
{
    public static readonly LabelSet Empty = new([]);

    private LabelSet(byte[] rendered)
    {
        Rendered = rendered;
    }

    /// <summary>The escaped pairs without braces; empty for no labels.</summary>
    public byte[] Rendered { get; }

    public bool IsEmpty => Rendered.Length == 0;

    /// <summary>Pairs in the order given; a null value leaves its key out.</summary>
    public static LabelSet Create(ReadOnlySpan<string> keys, ReadOnlySpan<string?> values)
    {
        if (keys.Length != values.Length)
        {
            throw new ArgumentException($"{keys.Length} label keys but {values.Length} values");
        }

        var builder = new Builder();
        for (int i = 0; i < keys.Length; i++)
        {
            builder.Add(keys[i], values[i]);
        }

        return builder.Build();
    }

    /// <summary>This set followed by more pairs.</summary>
    public LabelSet With(ReadOnlySpan<string> keys, ReadOnlySpan<string?> values)
    {
        var builder = new Builder(this);
        for (int i = 0; i < keys.Length; i++)
        {
            builder.Add(keys[i], values[i]);
        }

        return builder.Build();
    }

    public override string ToString() => Encoding.UTF8.GetString(Rendered);

    /// <summary>Appends <c>"value"</c> escaped: backslash, double quote and line feed, as both formats require.</summary>
    public static void AppendEscapedValue(StringBuilder sb, string value)
    {
        sb.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append("\\n"); break;
                default: sb.Append(c); break;
            }
        }

        sb.Append('"');
    }

    /// <summary>Collects pairs, then renders them.</summary>
    internal sealed class Builder
    {
        private readonly StringBuilder _sb = new();

        public Builder()
        {
        }

        public Builder(LabelSet start)
        {
            _sb.Append(start.ToString());
        }

        public Builder Add(string key, string? value)
        {
            if (value is null)
            {
                return this;
            }

            if (!MetricFamily.IsValidLabelKey(key))
            {
                throw new ArgumentException($"invalid label key \"{key}\"", nameof(key));
            }

            if (_sb.Length > 0)
            {
                _sb.Append(',');
            }

            _sb.Append(key).Append('=');
            AppendEscapedValue(_sb, value);
            return this;
        }

        public LabelSet Build() => _sb.Length == 0 ? Empty : new LabelSet(Encoding.UTF8.GetBytes(_sb.ToString()));
    }
}
