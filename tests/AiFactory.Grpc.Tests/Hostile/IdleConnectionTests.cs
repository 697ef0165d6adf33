using System.Net.Sockets;
using AiFactory.Grpc.Client;
using AiFactory.Grpc.Server;
using AiFactory.Grpc.Tests.Interop;
using AiFactory.Grpc.Tests.Support;

namespace AiFactory.Grpc.Tests.Hostile;

/// <summary>Thousands of connections that never make a call: the server keeps serving, stays small, and sheds them.</summary>
public sealed class IdleConnectionTests
{
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    // An empty SETTINGS frame: length 0, type 4, flags 0, stream 0.
    private static readonly byte[] EmptySettings = [0, 0, 0, 4, 0, 0, 0, 0, 0];

    [Fact]
    public async Task Two_thousand_idle_connections_neither_stop_other_callers_nor_outlive_the_timeouts()
    {
        // A short first-request timeout so that the test sees it fire, and a keep-alive timeout far beyond the test's
        // wait: the connections must be shed by the first, not the second (the daemon's are 10 s and 60 s).
        var limits = new GrpcKestrelLimits { RequestHeadersTimeout = TimeSpan.FromSeconds(2), KeepAliveTimeout = TimeSpan.FromMinutes(10) };
        await using TestServer server = await TestServer.StartAsync(limits: limits);
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(server.SocketPath);
        await channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest(), EchoResponse.Parser);
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < 2000; i++)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                idle.Add(socket);
                await ConnectAsync(socket, server.SocketPath);
                if (i % 2 == 1)
                {
                    // Half of them say hello in HTTP/2 and then nothing more.
                    await socket.SendAsync(Preface.Concat(EmptySettings).ToArray());
                }
            }

            // Other callers are still answered while the 2000 connections are open.
            EchoResponse response = await channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { Message = "through" }, EchoResponse.Parser);
            Assert.Equal("through", response.Message);
            using (GrpcChannel fresh = GrpcChannel.ForUnixSocket(server.SocketPath))
            {
                Assert.Equal("new", (await fresh.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { Message = "new" }, EchoResponse.Parser)).Message);
            }

            // Both ends of every connection live in this process: the managed heap is the measure (RSS of the
            // published agent under the same load is in docs/benchmarks/grpc.md).
            long heapGrowth = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
            Assert.True(heapGrowth < 64L * 1024 * 1024, $"the managed heap grew by {heapGrowth / 1024} KiB for 2000 idle connections");

            // The server closes each of them by itself: read until end of stream (after its SETTINGS/GOAWAY). The
            // wait is a safety limit, far below the keep-alive timeout.
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            int closed = 0;
            await Parallel.ForEachAsync(idle, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = deadline.Token }, async (socket, ct) =>
            {
                byte[] buffer = new byte[4096];
                try
                {
                    while (await socket.ReceiveAsync(buffer, SocketFlags.None, ct) > 0)
                    {
                    }
                }
                catch (SocketException)
                {
                    // A reset is a close too.
                }

                Interlocked.Increment(ref closed);
            });
            Assert.Equal(2000, closed);
        }
        finally
        {
            foreach (Socket socket in idle)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// Connects, waiting while the listen backlog is full: a Unix socket refuses with EAGAIN instead of queueing
    /// (the server is accepting as fast as it can; that refusal is the kernel's, not a server failure).
    /// </summary>
    private static async Task ConnectAsync(Socket socket, string path)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock && attempt < 200)
            {
                await Task.Delay(10);
            }
        }
    }

    [Fact]
    public async Task A_connection_that_has_made_a_call_is_not_cut_by_the_first_request_timeout()
    {
        var limits = new GrpcKestrelLimits { RequestHeadersTimeout = TimeSpan.FromSeconds(1) };
        await using TestServer server = await TestServer.StartAsync(limits: limits);
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(server.SocketPath);

        // One stream of 3 s on one connection: three times the first-request timeout.
        var seen = new List<int>();
        await foreach (CountResponse r in channel.ServerStreamingAsync("/aifactory.test.v1.TestService/Count", new CountRequest { Count = 15, IntervalMs = 200 }, CountResponse.Parser))
        {
            seen.Add(r.N);
        }

        Assert.Equal(Enumerable.Range(1, 15), seen);
    }
}
