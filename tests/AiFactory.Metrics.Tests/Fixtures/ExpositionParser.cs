using System.Globalization;
using System.Text;

namespace AiFactory.Metrics.Tests.Fixtures;

/// <summary>
/// A strict parser of the text exposition (0.0.4 and OpenMetrics), independent of the writer: it checks the
/// grammar (names, label syntax and escapes, values), that every sample's family was declared by # TYPE before it,
/// that a family's samples are contiguous and that OpenMetrics ends with # EOF; it returns the samples with
/// their label values unescaped.
/// </summary>
internal static class ExpositionParser
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public static List<Sample> Parse(string text, bool openMetrics)
    {
        var samples = new List<Sample>();
        var declared = new Dictionary<string, string>(StringComparer.Ordinal);
        var finished = new HashSet<string>(StringComparer.Ordinal);
        string? currentFamily = null;
        string[] lines = text.Split('\n');
        if (lines[^1] != string.Empty)
        {
            throw new FormatException("the exposition does not end with a line feed");
        }

        bool eof = false;
        for (int n = 0; n < lines.Length - 1; n++)
        {
            string line = lines[n];
            if (eof)
            {
                throw new FormatException($"line {n + 1}: text after # EOF");
            }

            if (line == "# EOF")
            {
                eof = true;
                continue;
            }

            if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ', 4);
                string family = parts[2];
                if (parts[1] == "TYPE")
                {
                    if (declared.ContainsKey(family) || finished.Contains(family))
                    {
                        throw new FormatException($"line {n + 1}: family {family} declared twice");
                    }

                    declared[family] = parts[3];
                    if (currentFamily is not null)
                    {
                        finished.Add(currentFamily);
                    }

                    currentFamily = family;
                }

                continue;
            }

            if (line.StartsWith('#'))
            {
                throw new FormatException($"line {n + 1}: unexpected comment {line}");
            }

            Sample sample = ParseSample(line, n + 1);
            string? owner = FamilyOf(sample.Name, declared, openMetrics);
            if (owner is null)
            {
                throw new FormatException($"line {n + 1}: sample {sample.Name} has no # TYPE before it");
            }

            if (owner != currentFamily)
            {
                throw new FormatException($"line {n + 1}: sample {sample.Name} is not next to the rest of family {owner}");
            }

            samples.Add(sample);
        }

        if (openMetrics && !eof)
        {
            throw new FormatException("OpenMetrics exposition without # EOF");
        }

        return samples;
    }

    private static string? FamilyOf(string sampleName, Dictionary<string, string> declared, bool openMetrics)
    {
        if (declared.ContainsKey(sampleName) && !(openMetrics && declared[sampleName] == "counter"))
        {
            return sampleName;
        }

        foreach (string suffix in new[] { "_total", "_bucket", "_sum", "_count" })
        {
            if (sampleName.EndsWith(suffix, StringComparison.Ordinal))
            {
                string family = sampleName[..^suffix.Length];
                if (declared.TryGetValue(family, out string? type) &&
                    (suffix == "_total" ? type == "counter" : type == "histogram"))
                {
                    return family;
                }
            }
        }

        return null;
    }

    private static Sample ParseSample(string line, int number)
    {
        int i = 0;
        while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or ':'))
        {
            i++;
        }

        string name = line[..i];
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            throw new FormatException($"line {number}: bad metric name in {line}");
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int keyStart = i;
                while (char.IsAsciiLetterOrDigit(line[i]) || line[i] == '_')
                {
                    i++;
                }

                string key = line[keyStart..i];
                if (key.Length == 0 || line[i] != '=' || line[i + 1] != '"')
                {
                    throw new FormatException($"line {number}: bad label at column {i}: {line}");
                }

                i += 2;
                var value = new StringBuilder();
                while (line[i] != '"')
                {
                    if (line[i] == '\\')
                    {
                        char escaped = line[i + 1];
                        value.Append(escaped switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"line {number}: bad escape \\{escaped}"),
                        });
                        i += 2;
                    }
                    else
                    {
                        value.Append(line[i]);
                        i++;
                    }
                }

                i++;
                if (!labels.TryAdd(key, value.ToString()))
                {
                    throw new FormatException($"line {number}: label {key} twice");
                }

                if (line[i] == ',')
                {
                    i++;
                }
                else if (line[i] != '}')
                {
                    throw new FormatException($"line {number}: expected , or }} at column {i}: {line}");
                }
            }

            i++;
        }

        if (i >= line.Length || line[i] != ' ')
        {
            throw new FormatException($"line {number}: no space before the value: {line}");
        }

        string raw = line[(i + 1)..];
        double value2 = raw switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        return new Sample(name, labels, value2);
    }
}
