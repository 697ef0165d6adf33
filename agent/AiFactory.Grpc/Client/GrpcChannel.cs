using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using AiFactory.Grpc.Protocol;
using Google.Protobuf;

namespace AiFactory.Grpc.Client;

/// <summary>
/// A gRPC client over HTTP/2 (SocketsHttpHandler): unary and server-streaming calls to a TCP address
/// (h2c for http://, TLS for https://) or a Unix socket.
/// </summary>
public sealed class GrpcChannel : IDisposable
{
    private readonly HttpMessageInvoker _invoker;
    private readonly Uri _baseAddress;
    private readonly GrpcChannelOptions _options;

    private GrpcChannel(HttpMessageInvoker invoker, Uri baseAddress, GrpcChannelOptions options)
    {
        _invoker = invoker;
        _baseAddress = baseAddress;
        _options = options;
    }

    /// <summary>A channel to <paramref name="address"/> (http:// for h2c, https:// for TLS).</summary>
    public static GrpcChannel ForAddress(Uri address, GrpcChannelOptions? options = null)
    {
        options ??= new GrpcChannelOptions();
        var handler = CreateHandler(options);
        return new GrpcChannel(new HttpMessageInvoker(handler), address, options);
    }

    /// <summary>A channel to a Unix socket (h2c).</summary>
    public static GrpcChannel ForUnixSocket(string socketPath, GrpcChannelOptions? options = null)
    {
        options ??= new GrpcChannelOptions();
        var handler = CreateHandler(options);
        handler.ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();

                // Without this, the message names the placeholder address of the HTTP request (localhost:80). .NET
                // maps connect's ENOENT to AddressNotAvailable, whose text ("Cannot assign requested address") misleads.
                string reason = ex.SocketErrorCode == SocketError.AddressNotAvailable && !Path.Exists(socketPath) ? "No such file or directory" : ex.Message;
                throw new UnixSocketConnectException(socketPath, ex.SocketErrorCode, reason);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
        return new GrpcChannel(new HttpMessageInvoker(handler), new Uri("http://localhost"), options);
    }

    private static SocketsHttpHandler CreateHandler(GrpcChannelOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        };
        if (options.ServerCertificateValidation is not null || options.TrustedCertificateAuthorities is not null || options.ClientCertificates is not null)
        {
            handler.SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = options.ServerCertificateValidation ??
                    (options.TrustedCertificateAuthorities is { } roots ? (_, certificate, _, errors) => ChainsTo(roots, certificate, errors) : null),
                ClientCertificates = options.ClientCertificates,
            };
        }

        return handler;
    }

    /// <summary>True when <paramref name="certificate"/> matches the host name and chains to one of <paramref name="roots"/>.</summary>
    private static bool ChainsTo(X509Certificate2Collection roots, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is not X509Certificate2 leaf || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    /// <summary>Calls a unary method (<c>/package.Service/Method</c>) and returns its response.</summary>
    public async Task<TResponse> UnaryAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser, CallOptions options = default)
        where TResponse : IMessage<TResponse>
    {
        TResponse? result = default;
        bool any = false;
        await foreach (TResponse response in ServerStreamingAsync(method, request, parser, options).ConfigureAwait(false))
        {
            if (any)
            {
                throw new RpcException(StatusCode.Internal, "The server sent more than one response message for a unary call.");
            }

            result = response;
            any = true;
        }

        return any ? result! : throw new RpcException(StatusCode.Internal, "The server ended a unary call with OK but no response message.");
    }

    /// <summary>Calls a server-streaming method and yields each response message as it arrives.</summary>
    public async IAsyncEnumerable<TResponse> ServerStreamingAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser, CallOptions options = default)
        where TResponse : IMessage<TResponse>
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);
        TimeSpan? timeout = null;
        if (options.Deadline is DateTime deadline)
        {
            timeout = deadline.ToUniversalTime() - DateTime.UtcNow;
            if (timeout <= TimeSpan.Zero)
            {
                throw new RpcException(StatusCode.DeadlineExceeded, "Deadline exceeded before the call was sent.");
            }

            cts.CancelAfter(timeout.Value);
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseAddress, method))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new MessageContent(request, _options.MaxSendMessageSize),
        };
        message.Headers.TryAddWithoutValidation("te", "trailers");
        if (timeout is TimeSpan t)
        {
            message.Headers.TryAddWithoutValidation(GrpcHeaders.Timeout, GrpcTimeout.Format(t));
        }

        if (options.Headers is not null)
        {
            foreach ((string key, string value) in options.Headers)
            {
                message.Headers.TryAddWithoutValidation(key, value);
            }
        }

        HttpResponseMessage response = await Guard(() => _invoker.SendAsync(message, cts.Token), cts, options.CancellationToken, timeout).ConfigureAwait(false);
        using (response)
        {
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new RpcException(HttpStatusMapping.ToStatusCode((int)response.StatusCode), $"Bad gRPC response. HTTP status code: {(int)response.StatusCode}");
            }

            if (TryGetStatus(response.Headers, out StatusCode headerStatus, out string headerMessage))
            {
                // Trailers-only response.
                if (headerStatus != StatusCode.OK)
                {
                    throw new RpcException(headerStatus, headerMessage);
                }

                yield break;
            }

            if (!GrpcHeaders.IsGrpcContentType(response.Content.Headers.ContentType?.MediaType))
            {
                throw new RpcException(StatusCode.Internal, $"Bad gRPC response. Invalid content-type value: {response.Content.Headers.ContentType}");
            }

            Stream body = await Guard(() => response.Content.ReadAsStreamAsync(cts.Token), cts, options.CancellationToken, timeout).ConfigureAwait(false);
            var reader = System.IO.Pipelines.PipeReader.Create(body);
            try
            {
                while (true)
                {
                    System.IO.Pipelines.ReadResult read = await Guard(() => reader.ReadAsync(cts.Token).AsTask(), cts, options.CancellationToken, timeout).ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = read.Buffer;
                    var parsed = new List<TResponse>();
                    try
                    {
                        while (GrpcFraming.TryReadFrame(ref buffer, _options.MaxReceiveMessageSize, out ReadOnlySequence<byte> payload))
                        {
                            parsed.Add(Parse(parser, payload));
                        }
                    }
                    finally
                    {
                        reader.AdvanceTo(buffer.Start, buffer.End);
                    }

                    foreach (TResponse item in parsed)
                    {
                        yield return item;
                    }

                    if (read.IsCompleted)
                    {
                        if (!buffer.IsEmpty)
                        {
                            throw new RpcException(StatusCode.Internal, "The response ended in the middle of a message frame.");
                        }

                        break;
                    }
                }
            }
            finally
            {
                await reader.CompleteAsync().ConfigureAwait(false);
            }

            if (!TryGetStatus(response.TrailingHeaders, out StatusCode status, out string statusMessage))
            {
                throw new RpcException(StatusCode.Internal, "The response ended without a grpc-status.");
            }

            if (status != StatusCode.OK)
            {
                throw new RpcException(status, statusMessage);
            }
        }
    }

    private static TResponse Parse<TResponse>(MessageParser<TResponse> parser, ReadOnlySequence<byte> payload)
        where TResponse : IMessage<TResponse>
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new RpcException(StatusCode.Internal, "Failed to deserialize the response message: " + ex.Message, ex);
        }
    }

    /// <summary>
    /// Runs one step of a call, turning HttpClient's failures into an <see cref="RpcException"/>: Cancelled, DeadlineExceeded
    /// (saying how long was waited: <paramref name="timeout"/>, the deadline's distance when the call began) or Unavailable.
    /// </summary>
    private static async Task<T> Guard<T>(Func<Task<T>> action, CancellationTokenSource linked, CancellationToken caller, TimeSpan? timeout)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or IOException)
        {
            if (caller.IsCancellationRequested)
            {
                throw new RpcException(StatusCode.Cancelled, "The call was cancelled by the caller.", ex);
            }

            if (linked.IsCancellationRequested)
            {
                throw new RpcException(StatusCode.DeadlineExceeded, timeout is TimeSpan waited
                    ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Deadline exceeded: no answer within {Math.Round(waited.TotalSeconds, waited.TotalSeconds >= 1 ? 1 : 3):0.###} s.")
                    : "Deadline exceeded.", ex);
            }

            // A failed Unix socket connect: the path and errno text, without HttpClient's "(localhost:80)".
            string reason = ex is HttpRequestException { InnerException: UnixSocketConnectException connect } ? connect.Message : ex.Message;
            throw new RpcException(StatusCode.Unavailable, "Error connecting or talking to the server: " + reason, ex);
        }
    }

    private static bool TryGetStatus(System.Net.Http.Headers.HttpHeaders headers, out StatusCode status, out string message)
    {
        status = StatusCode.Unknown;
        message = string.Empty;
        if (!headers.TryGetValues(GrpcHeaders.Status, out IEnumerable<string>? values))
        {
            return false;
        }

        string raw = values.FirstOrDefault() ?? string.Empty;
        status = int.TryParse(raw, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int code)
            ? (StatusCode)code
            : StatusCode.Unknown;
        if (headers.TryGetValues(GrpcHeaders.Message, out IEnumerable<string>? messages))
        {
            message = GrpcMessageEncoding.Decode(messages.FirstOrDefault() ?? string.Empty);
        }

        return true;
    }

    /// <inheritdoc />
    public void Dispose() => _invoker.Dispose();

    /// <summary>A Unix socket that could not be connected to, named with the errno text.</summary>
}
