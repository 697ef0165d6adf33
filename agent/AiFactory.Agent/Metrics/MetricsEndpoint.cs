using System.IO.Compression;
using AiFactory.Agent.Metrics.Exposition;
using Microsoft.AspNetCore.Http;

namespace AiFactory.Agent.Metrics;

/// <summary>
/// <c>GET /metrics</c>: text format 0.0.4 or OpenMetrics by the Accept header, gzip when Accept-Encoding asks.
/// <c>HEAD /metrics</c> answers the same headers without scraping (no body, no Content-Length). Every answer carries
/// <c>Vary: Accept, Accept-Encoding</c>, the two headers the body depends on.
/// </summary>
internal sealed class MetricsEndpoint
{
    private readonly MetricsScraper _scraper;

    public MetricsEndpoint(MetricsScraper scraper)
    {
        _scraper = scraper;
    }

    public async Task HandleAsync(HttpContext context)
    {
        ExpositionFormat format = ExpositionFormats.Negotiate(context.Request.Headers.Accept.ToString());
        bool gzip = AcceptsGzip(context.Request.Headers.AcceptEncoding.ToString());
        HttpResponse response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = format.ContentType();
        response.Headers.Vary = "Accept, Accept-Encoding";
        if (gzip)
        {
            response.Headers.ContentEncoding = "gzip";
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        using PooledBuffer body = _scraper.Scrape(format);
        if (gzip)
        {
            await using var stream = new GZipStream(response.Body, CompressionLevel.Fastest, leaveOpen: true);
            await stream.WriteAsync(body.Written, context.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            response.ContentLength = body.Length;
            await response.Body.WriteAsync(body.Written, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// True when Accept-Encoding accepts gzip: its own entry with a q-value above zero, or, when gzip is not named,
    /// <c>*</c> with one. A named gzip entry wins over <c>*</c> (RFC 9110 12.5.3), so <c>gzip;q=0, *</c> refuses it.
    /// </summary>
    public static bool AcceptsGzip(string? acceptEncoding)
    {
        if (string.IsNullOrEmpty(acceptEncoding))
        {
            return false;
        }

        double? gzip = null;
        double? any = null;
        foreach (string part in acceptEncoding.Split(','))
        {
            string[] pieces = part.Split(';');
            string coding = pieces[0].Trim();
            bool isGzip = coding.Equals("gzip", StringComparison.OrdinalIgnoreCase);
            if (!isGzip && coding != "*")
            {
                continue;
            }

            double q = 1;
            foreach (string parameter in pieces.AsSpan(1))
            {
                string p = parameter.Trim().Replace(" ", string.Empty, StringComparison.Ordinal);
                if (p.StartsWith("q=", StringComparison.OrdinalIgnoreCase) &&
                    double.TryParse(p.AsSpan(2), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double parsed))
                {
                    q = parsed;
                }
            }

            if (isGzip)
            {
                gzip = Math.Max(gzip ?? 0, q);
            }
            else
            {
                any = Math.Max(any ?? 0, q);
            }
        }

        return (gzip ?? any ?? 0) > 0;
    }
}
