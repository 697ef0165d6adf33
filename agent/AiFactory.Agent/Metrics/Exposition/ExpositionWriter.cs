using System.Globalization;
using System.Text;

namespace AiFactory.Agent.Metrics.Exposition;

/// <summary>
/// Writes metric families in Prometheus text format 0.0.4 or OpenMetrics 1.0, straight into a UTF-8 buffer.
/// A family's <c># HELP</c>/<c># TYPE</c> lines are written before its first sample, so families without
/// samples leave no trace; all samples of a family must follow each other (both formats require it).
/// </summary>
internal sealed class ExpositionWriter
{
    private static readonly byte[] HelpPrefix = "# HELP "u8.ToArray();
    private static readonly byte[] TypePrefix = "# TYPE "u8.ToArray();
    private static readonly byte[] LeKey = "le=\""u8.ToArray();
    private static readonly byte[] PositiveInfinity = "+Inf"u8.ToArray();
    private static readonly byte[] NegativeInfinity = "-Inf"u8.ToArray();
    private static readonly byte[] NotANumber = "NaN"u8.ToArray();

    private readonly PooledBuffer _buffer;
    private readonly List<MetricFamily> _written = [];
    private readonly HashSet<MetricFamily> _writtenSet = new(ReferenceEqualityComparer.Instance);
    private MetricFamily? _current;

    public ExpositionWriter(PooledBuffer buffer, ExpositionFormat format)
    {
        _buffer = buffer;
        Format = format;
    }

    public ExpositionFormat Format { get; }

    /// <summary>Samples written so far (a histogram counts each of its lines).</summary>
    public int SampleCount { get; private set; }

    /// <summary>A sample without labels.</summary>
    public void Sample(MetricFamily family, double value) => Sample(family, LabelSet.Empty, value);

    /// <summary>A sample with a pre-rendered label set.</summary>
    public void Sample(MetricFamily family, LabelSet labels, double value)
    {
        StartFamily(family);
        _buffer.Write(family.Utf8.Sample);
        if (!labels.IsEmpty)
        {
            _buffer.Write((byte)'{');
            _buffer.Write(labels.Rendered);
            _buffer.Write((byte)'}');
        }

        EndSample(value);
    }

    /// <summary>A sample whose labels are the family's keys with these values (a null value leaves its key out).</summary>
    public void Sample(MetricFamily family, ReadOnlySpan<string?> labelValues, double value) =>
        Sample(family, LabelSet.Empty, labelValues, value);

    /// <summary>
    /// A sample with a shared label set followed by the family's own keys with these values (a null value leaves its
    /// key out): GPU labels shared by every series of a device plus one per-sample label.
    /// </summary>
    public void Sample(MetricFamily family, LabelSet prefix, ReadOnlySpan<string?> labelValues, double value)
    {
        if (labelValues.Length != family.LabelKeys.Count)
        {
            throw new ArgumentException($"{family.Name} has {family.LabelKeys.Count} label keys but {labelValues.Length} values were given");
        }

        StartFamily(family);
        _buffer.Write(family.Utf8.Sample);
        bool any = !prefix.IsEmpty;
        _buffer.Write((byte)'{');
        _buffer.Write(prefix.Rendered);
        byte[][] keys = family.Utf8.LabelKeys;
        for (int i = 0; i < labelValues.Length; i++)
        {
            if (labelValues[i] is not { } v)
            {
                continue;
            }

            if (any)
            {
                _buffer.Write((byte)',');
            }

            any = true;
            _buffer.Write(keys[i]);
            _buffer.Write((byte)'=');
            WriteQuoted(v);
        }

        if (any)
        {
            _buffer.Write((byte)'}');
        }
        else
        {
            _buffer.Truncate(_buffer.Length - 1);
        }

        EndSample(value);
    }

    /// <summary>A histogram's <c>_bucket</c> lines (with <c>le</c>), <c>_sum</c> and <c>_count</c>.</summary>
    public void Histogram(MetricFamily family, LabelSet labels, HistogramSnapshot histogram)
    {
        if (family.Type != MetricType.Histogram)
        {
            throw new ArgumentException($"{family.Name} is a {family.Type}, not a histogram");
        }

        StartFamily(family);
        for (int i = 0; i <= histogram.UpperBounds.Length; i++)
        {
            _buffer.Write(family.Utf8.Bucket);
            _buffer.Write((byte)'{');
            if (!labels.IsEmpty)
            {
                _buffer.Write(labels.Rendered);
                _buffer.Write((byte)',');
            }

            _buffer.Write(LeKey);
            if (i == histogram.UpperBounds.Length)
            {
                _buffer.Write(PositiveInfinity);
                _buffer.Write("\"} "u8);
                WriteValue(histogram.Count);
            }
            else
            {
                WriteBound(histogram.UpperBounds[i]);
                _buffer.Write("\"} "u8);
                WriteValue(histogram.CumulativeCounts[i]);
            }

            _buffer.Write((byte)'\n');
            SampleCount++;
        }

        WriteNameAndLabels(family.Utf8.Sum, labels);
        EndSample(histogram.Sum);
        WriteNameAndLabels(family.Utf8.Count, labels);
        EndSample(histogram.Count);
    }

    /// <summary>Where the output stands, to undo a collector that failed half-way.</summary>
    public Mark GetMark() => new(_buffer.Length, _current, _written.Count, SampleCount);

    /// <summary>Drops everything written since <paramref name="mark"/>.</summary>
    public void Rollback(Mark mark)
    {
        _buffer.Truncate(mark.Length);
        for (int i = _written.Count - 1; i >= mark.WrittenCount; i--)
        {
            _writtenSet.Remove(_written[i]);
            _written.RemoveAt(i);
        }

        _current = mark.Current;
        SampleCount = mark.SampleCount;
    }

    /// <summary>Ends the exposition (<c># EOF</c> in OpenMetrics).</summary>
    public void Finish()
    {
        if (Format == ExpositionFormat.OpenMetrics100)
        {
            _buffer.Write("# EOF\n"u8);
        }
    }

    private void StartFamily(MetricFamily family)
    {
        if (ReferenceEquals(family, _current))
        {
            return;
        }

        if (!_writtenSet.Add(family))
        {
            throw new InvalidOperationException($"metric family {family.Name} was written in two places; its samples must follow each other");
        }

        _written.Add(family);
        _current = family;
        bool openMetrics = Format == ExpositionFormat.OpenMetrics100;
        string headerName = family.Type == MetricType.Counter && !openMetrics ? family.SampleName : family.Name;
        string type = family.Type switch
        {
            MetricType.Gauge => "gauge",
            MetricType.Counter => "counter",
            MetricType.LegacyCounter => openMetrics ? "unknown" : "counter",
            MetricType.Histogram => "histogram",
            _ => throw new InvalidOperationException(family.Type.ToString()),
        };

        _buffer.Write(HelpPrefix);
        WriteAscii(headerName);
        _buffer.Write((byte)' ');
        WriteHelp(family.Help, openMetrics);
        _buffer.Write((byte)'\n');
        _buffer.Write(TypePrefix);
        WriteAscii(headerName);
        _buffer.Write((byte)' ');
        WriteAscii(type);
        _buffer.Write((byte)'\n');
    }

    private void WriteNameAndLabels(byte[] name, LabelSet labels)
    {
        _buffer.Write(name);
        if (!labels.IsEmpty)
        {
            _buffer.Write((byte)'{');
            _buffer.Write(labels.Rendered);
            _buffer.Write((byte)'}');
        }
    }

    private void EndSample(double value)
    {
        _buffer.Write((byte)' ');
        WriteValue(value);
        _buffer.Write((byte)'\n');
        SampleCount++;
    }

    private void WriteValue(double value)
    {
        if (double.IsPositiveInfinity(value))
        {
            _buffer.Write(PositiveInfinity);
        }
        else if (double.IsNegativeInfinity(value))
        {
            _buffer.Write(NegativeInfinity);
        }
        else if (double.IsNaN(value))
        {
            _buffer.Write(NotANumber);
        }
        else
        {
            Span<byte> span = _buffer.GetSpan(32);
            if (!value.TryFormat(span, out int written, "R", CultureInfo.InvariantCulture))
            {
                throw new InvalidOperationException("a double did not fit in 32 bytes");
            }

            _buffer.Advance(written);
        }
    }

    private void WriteValue(long value)
    {
        Span<byte> span = _buffer.GetSpan(24);
        value.TryFormat(span, out int written, default, CultureInfo.InvariantCulture);
        _buffer.Advance(written);
    }

    /// <summary>A bucket bound; OpenMetrics wants a float, so whole numbers get ".0" there ("1.0").</summary>
    private void WriteBound(double bound)
    {
        WriteValue(bound);
        if (Format == ExpositionFormat.OpenMetrics100 && double.IsFinite(bound) && Math.Floor(bound) == bound &&
            Math.Abs(bound) < 1e15)
        {
            _buffer.Write(".0"u8);
        }
    }

    private void WriteAscii(string s)
    {
        Span<byte> span = _buffer.GetSpan(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            span[i] = (byte)s[i];
        }

        _buffer.Advance(s.Length);
    }

    /// <summary>HELP text: backslash and line feed escaped in both formats, double quote too in OpenMetrics.</summary>
    private void WriteHelp(string help, bool openMetrics)
    {
        ReadOnlySpan<char> rest = help;
        while (!rest.IsEmpty)
        {
            int i = openMetrics ? rest.IndexOfAny('\\', '\n', '"') : rest.IndexOfAny('\\', '\n');
            if (i < 0)
            {
                WriteUtf8(rest);
                break;
            }

            WriteUtf8(rest[..i]);
            WriteEscape(rest[i]);
            rest = rest[(i + 1)..];
        }
    }

    /// <summary>A label value in double quotes with backslash, double quote and line feed escaped.</summary>
    private void WriteQuoted(string value)
    {
        _buffer.Write((byte)'"');
        ReadOnlySpan<char> rest = value;
        while (!rest.IsEmpty)
        {
            int i = rest.IndexOfAny('\\', '\n', '"');
            if (i < 0)
            {
                WriteUtf8(rest);
                break;
            }

            WriteUtf8(rest[..i]);
            WriteEscape(rest[i]);
            rest = rest[(i + 1)..];
        }

        _buffer.Write((byte)'"');
    }

    private void WriteEscape(char c)
    {
        _buffer.Write((byte)'\\');
        _buffer.Write(c == '\n' ? (byte)'n' : (byte)c);
    }

    private void WriteUtf8(ReadOnlySpan<char> chars)
    {
        Span<byte> span = _buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(chars.Length));
        _buffer.Advance(Encoding.UTF8.GetBytes(chars, span));
    }

    /// <summary>A position in the output; see <see cref="GetMark"/>.</summary>
    internal readonly record struct Mark(int Length, MetricFamily? Current, int WrittenCount, int SampleCount);
}
