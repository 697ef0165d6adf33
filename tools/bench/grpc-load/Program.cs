using System.Globalization;
using System.Net;
using System.Net.Sockets;
using AiFactory.Grpc.Client;
using GrpcLoad;

// grpc-load (--unix PATH | --tcp HOST:PORT) [--callers 64] [--seconds 10] [--warmup 2] [--rate R] [--client channel|raw] [--connections 1]
//
// Without --rate (closed loop): each caller has one Health/Check at a time in flight and issues the next as soon as
// the previous returns; latency is measured per call, client side, from the call's start.
//
// With --rate R (open loop): R calls per second in all, spread over the callers on a fixed schedule (caller i's
// k-th call is due at t0 + (k*callers + i)/R), each started when due whether or not earlier calls have returned;
// latency is measured from the due time, so a stall that delays later calls counts against them (no coordinated
// omission, as in wrk2).
//
// --client channel (default): the project's GrpcChannel (SocketsHttpHandler). --client raw: HTTP/2 written by hand on
// a socket (RawHealthClient), over --connections connections (default 1: what GrpcChannel ends up with for 64
// callers, one HTTP/2 connection, as the server allows 100 streams on it); its result line adds client=raw.
// Hidden: --path /pkg.Service/Method calls another method (a check that failures are counted as errors).
string? unix = null;
string? tcp = null;
int callers = 64;
double seconds = 10;
double warmup = 2;
double rate = 0;
string client = "channel";
int connections = 1;
string path = "/grpc.health.v1.Health/Check";
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
        case "--client": client = args[i + 1]; break;
        case "--connections": connections = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--path": path = args[i + 1]; break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 64;
    }
}

if (unix is null == (tcp is null) || callers < 1 || seconds <= 0 || warmup < 0 || rate < 0 || args.Length % 2 != 0
    || client is not ("channel" or "raw") || connections < 1)
{
    Console.Error.WriteLine("usage: grpc-load (--unix PATH | --tcp HOST:PORT) [--callers 64] [--seconds 10] [--warmup 2] [--rate CALLS_PER_SECOND] [--client channel|raw] [--connections 1]");
    return 64;
}

using IHealthClient check = client == "raw"
    ? new RawHealthClient(unix is not null ? new UnixDomainSocketEndPoint(unix) : ParseTcp(tcp!), connections, path, unix is not null ? "localhost" : tcp!)
    : new ChannelHealthClient(unix is not null ? GrpcChannel.ForUnixSocket(unix) : GrpcChannel.ForAddress(new Uri("http://" + tcp)), path);

// One call first, which also opens the connection(s).
var first = new FirstCall();
check.Start(first);
if (!first.Done.Wait(TimeSpan.FromSeconds(30)) || !first.Ok)
{
    Console.Error.WriteLine($"grpc-load: the first call failed: {check.FirstError ?? "no answer within 30 s"}");
}

string target = unix ?? tcp!;
string line = rate > 0
    ? await OpenLoop.RunAsync(check, target, callers, rate, warmup, seconds).ConfigureAwait(false)
    : await ClosedLoop.RunAsync(check, target, callers, warmup, seconds).ConfigureAwait(false);
Console.WriteLine(line);
if (check.FirstError is { } error)
{
    Console.Error.WriteLine($"grpc-load: {check.ErrorCount} calls failed (warm-up included); the first: {error}");
}

return 0;

static IPEndPoint ParseTcp(string hostPort)
{
    int colon = hostPort.LastIndexOf(':');
    string host = hostPort[..colon].Trim('[', ']');
    int port = int.Parse(hostPort[(colon + 1)..], CultureInfo.InvariantCulture);
    IPAddress address = IPAddress.TryParse(host, out IPAddress? ip) ? ip : Dns.GetHostAddresses(host)[0];
    return new IPEndPoint(address, port);
}
