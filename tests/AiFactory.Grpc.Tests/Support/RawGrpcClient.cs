using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace AiFactory.Grpc.Tests.Support;

/// <summary>
/// Sends hand-made request bodies (any bytes, in any pieces, ended or not) to a gRPC server over HTTP/2, and
/// reads back what the server answered: the HTTP status, grpc-status/grpc-message from headers or trailers.
/// </summary>
internal sealed class RawGrpcClient : IDisposable
{
    private readonly HttpMessageInvoker _invoker;
    private readonly Uri _base;

    public RawGrpcClient(string unixSocket)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(unixSocket), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        _invoker = new HttpMessageInvoker(handler);
        _base = new Uri("http://localhost");
    }

    public sealed record Answer(HttpStatusCode HttpStatus, int? GrpcStatus, string? GrpcMessage, HttpResponseHeaders Headers, int BodyBytes);

    /// <summary>Posts <paramref name="body"/> to <paramref name="path"/> and reads the whole answer.</summary>
    public async Task<Answer> SendAsync(string path, Func<Stream, CancellationToken, Task> body, string contentType = "application/grpc",
        IReadOnlyDictionary<string, string>? headers = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_base, path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new RawContent(body, contentType),
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach ((string key, string value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(key, value);
        }

        using HttpResponseMessage response = await _invoker.SendAsync(request, cancellationToken);
        byte[] bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        string? Get(HttpHeaders h, string name) => h.TryGetValues(name, out var v) ? v.First() : null;
        string? status = Get(response.Headers, "grpc-status") ?? Get(response.TrailingHeaders, "grpc-status");
        string? message = Get(response.Headers, "grpc-message") ?? Get(response.TrailingHeaders, "grpc-message");
        return new Answer(response.StatusCode, status is null ? null : int.Parse(status, System.Globalization.CultureInfo.InvariantCulture), message, response.Headers, bytes.Length);
    }

    /// <summary>Posts <paramref name="body"/> and returns once the response headers are in, leaving the body unread.</summary>
    public async Task<HttpResponseMessage> StartAsync(string path, Func<Stream, CancellationToken, Task> body, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_base, path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new RawContent(body, "application/grpc"),
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        return await _invoker.SendAsync(request, cancellationToken); // an invoker, unlike HttpClient, never buffers the body
    }

    /// <summary>A request message framed for gRPC (uncompressed).</summary>
    public static byte[] Frame(Google.Protobuf.IMessage message)
    {
        byte[] payload = Google.Protobuf.MessageExtensions.ToByteArray(message);
        byte[] frame = new byte[5 + payload.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    /// <summary>A body written by <paramref name="body"/> byte for byte.</summary>
    public static Func<Stream, CancellationToken, Task> Bytes(params byte[] bytes) => (s, ct) => s.WriteAsync(bytes, ct).AsTask();

    /// <summary>A body that writes <paramref name="bytes"/> and then never ends (until the request is torn down).</summary>
    public static Func<Stream, CancellationToken, Task> BytesThenHang(params byte[] bytes) => async (s, ct) =>
    {
        await s.WriteAsync(bytes, ct);
        await s.FlushAsync(ct);
        await Task.Delay(Timeout.Infinite, ct);
    };

    public void Dispose() => _invoker.Dispose();

    private sealed class RawContent : HttpContent
    {
        private readonly Func<Stream, CancellationToken, Task> _body;

        public RawContent(Func<Stream, CancellationToken, Task> body, string contentType)
        {
            _body = body;
            Headers.TryAddWithoutValidation("content-type", contentType);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _body(stream, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) => _body(stream, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
