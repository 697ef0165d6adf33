using System.Diagnostics;
using System.Globalization;
using AiFactory.Grpc;
using AiFactory.Grpc.Client;
using Grpc.Health.V1;

// grpc-load (--unix PATH | --tcp HOST:PORT) [--callers 64] [--seconds 10] [--warmup 2]
// Each caller awaits one Health/Check at a time (closed loop); latency is measured per call, client side.
string? unix = null;
string? tcp = null;
int callers = 64;
double seconds = 10;
double warmup = 2;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--unix": unix = args[i + 1]; break;
        case "--tcp": tcp = args[i + 1]; break;
        case "--callers": callers = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--seconds": seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--warmup": warmup = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 64;
    }
}

if (unix is null == (tcp is null))
{
    Console.Error.WriteLine("usage: grpc-load (--unix PATH | --tcp HOST:PORT) [--callers 64] [--seconds 10] [--warmup 2]");
    return 64;
}

using GrpcChannel channel = unix is not null ? GrpcChannel.ForUnixSocket(unix) : GrpcChannel.ForAddress(new Uri("http://" + tcp));
var request = new HealthCheckRequest();
const string Method = "/grpc.health.v1.Health/Check";
await channel.UnaryAsync(Method, request, HealthCheckResponse.Parser);

long measureFrom = Stopwatch.GetTimestamp() + (long)(warmup * Stopwatch.Frequency);
long stopAt = measureFrom + (long)(seconds * Stopwatch.Frequency);
var perCaller = new List<long>[callers];
int errors = 0;
var tasks = new Task[callers];
for (int c = 0; c < callers; c++)
{
    var samples = perCaller[c] = new List<long>(1 << 16);
    tasks[c] = Task.Run(async () =>
    {
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            if (start >= stopAt)
            {
                return;
            }

            try
            {
                await channel.UnaryAsync(Method, request, HealthCheckResponse.Parser).ConfigureAwait(false);
            }
            catch (RpcException)
            {
                Interlocked.Increment(ref errors);
                continue;
            }

            long end = Stopwatch.GetTimestamp();
            if (start >= measureFrom && end <= stopAt)
            {
                samples.Add(end - start);
            }
        }
    });
}

await Task.WhenAll(tasks);
long[] all = perCaller.SelectMany(s => s).ToArray();
Array.Sort(all);
double Us(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
double P(double q) => all.Length == 0 ? double.NaN : Us(all[Math.Min(all.Length - 1, (int)(q * all.Length))]);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"target={(unix ?? tcp)} callers={callers} seconds={seconds} calls={all.Length} errors={errors} " +
    $"throughput={all.Length / seconds:F0}/s p50={P(0.50):F0}us p90={P(0.90):F0}us p99={P(0.99):F0}us p99.9={P(0.999):F0}us max={(all.Length == 0 ? 0 : Us(all[^1])):F0}us"));
return 0;
