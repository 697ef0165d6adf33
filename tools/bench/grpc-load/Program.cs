using System.Globalization;
using AiFactory.Grpc.Client;
using Grpc.Health.V1;
using GrpcLoad;

// grpc-load (--unix PATH | --tcp HOST:PORT) [--callers 64] [--seconds 10] [--warmup 2] [--rate R]
//
// Without --rate (closed loop): each caller awaits one Health/Check at a time and issues the next as soon as the
// previous returns; latency is measured per call, client side, from the call's start.
//
// With --rate R (open loop): R calls per second in all, spread over the callers on a fixed schedule (caller i's
// k-th call is due at t0 + (k*callers + i)/R), each started when due whether or not earlier calls have returned;
// latency is measured from the due time, so a stall that delays later calls counts against them (no coordinated
// omission, as in wrk2).
string? unix = null;
string? tcp = null;
int callers = 64;
double seconds = 10;
double warmup = 2;
double rate = 0;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--unix": unix = args[i + 1]; break;
        case "--tcp": tcp = args[i + 1]; break;
        case "--callers": callers = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--seconds": seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--warmup": warmup = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--rate": rate = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 64;
    }
}

if (unix is null == (tcp is null) || callers < 1 || seconds <= 0 || warmup < 0 || rate < 0 || args.Length % 2 != 0)
{
    Console.Error.WriteLine("usage: grpc-load (--unix PATH | --tcp HOST:PORT) [--callers 64] [--seconds 10] [--warmup 2] [--rate CALLS_PER_SECOND]");
    return 64;
}

using GrpcChannel channel = unix is not null ? GrpcChannel.ForUnixSocket(unix) : GrpcChannel.ForAddress(new Uri("http://" + tcp));
var check = new HealthCheck(channel);
await check.CallAsync().ConfigureAwait(false);

string target = unix ?? tcp!;
string line = rate > 0
    ? await OpenLoop.RunAsync(check, target, callers, rate, warmup, seconds).ConfigureAwait(false)
    : await ClosedLoop.RunAsync(check, target, callers, warmup, seconds).ConfigureAwait(false);
Console.WriteLine(line);
return 0;
