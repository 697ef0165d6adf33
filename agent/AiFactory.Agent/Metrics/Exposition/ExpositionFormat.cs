namespace AiFactory.Agent.Metrics.Exposition;

/// <summary>The two exposition formats and how a scrape's Accept header picks one.</summary>
internal enum ExpositionFormat
{
    /// <summary>Prometheus text format 0.0.4: <c>text/plain; version=0.0.4</c>.</summary>
    Text004,

    /// <summary>OpenMetrics 1.0: <c>application/openmetrics-text; version=1.0.0</c>.</summary>
    OpenMetrics100,
}

/// <summary>Content negotiation for <c>/metrics</c>.</summary>
internal static class ExpositionFormats
{
    public const string TextContentType = "text/plain; version=0.0.4; charset=utf-8";
    public const string OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    public static string ContentType(this ExpositionFormat format) =>
        format == ExpositionFormat.OpenMetrics100 ? OpenMetricsContentType : TextContentType;

    /// <summary>
    /// OpenMetrics when the Accept header lists <c>application/openmetrics-text</c> (version 1.0.0, 0.0.1 or none) with a
    /// q-value at least that of any text/plain or wildcard entry; text 0.0.4 otherwise (also for no header), as
    /// client_golang's expfmt.Negotiate does.
    /// </summary>
    public static ExpositionFormat Negotiate(string? accept)
    {
        if (string.IsNullOrEmpty(accept))
        {
            return ExpositionFormat.Text004;
        }

        double openMetricsQ = -1;
        double textQ = -1;
        foreach (string part in accept.Split(','))
        {
            string[] pieces = part.Split(';');
            string mediaType = pieces[0].Trim();
            double q = 1;
            string? version = null;
            for (int i = 1; i < pieces.Length; i++)
            {
                string p = pieces[i].Trim();
                int eq = p.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    continue;
                }

                string key = p[..eq].Trim();
                string value = p[(eq + 1)..].Trim().Trim('"');
                if (key.Equals("q", StringComparison.OrdinalIgnoreCase) &&
                    double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double parsed))
                {
                    q = parsed;
                }
                else if (key.Equals("version", StringComparison.OrdinalIgnoreCase))
                {
                    version = value;
                }
            }

            if (mediaType.Equals("application/openmetrics-text", StringComparison.OrdinalIgnoreCase))
            {
                // 0.0.1 as client_golang does (its FmtOpenMetrics_0_0_1, what Prometheus 2.x asks for): the same text as 1.0.0.
                if (version is null || version.StartsWith("1.0", StringComparison.Ordinal) || version == "0.0.1")
                {
                    openMetricsQ = Math.Max(openMetricsQ, q);
                }
            }
            else if (mediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase) || mediaType == "*/*" || mediaType == "text/*")
            {
                textQ = Math.Max(textQ, q);
            }
        }

        return openMetricsQ > 0 && openMetricsQ >= textQ ? ExpositionFormat.OpenMetrics100 : ExpositionFormat.Text004;
    }
}
