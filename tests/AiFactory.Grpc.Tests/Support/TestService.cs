using AiFactory.Grpc.Services;
using AiFactory.Grpc.Tests.Interop;
using Google.Protobuf;

namespace AiFactory.Grpc.Tests.Support;

/// <summary>
/// The C# side of <c>aifactory.test.v1.TestService</c> (tests/interop/protos/interop_test.proto); the grpc-js
/// server in tests/interop/server.js answers the same methods the same way.
/// </summary>
internal sealed class TestService
{
    public const string Name = "aifactory.test.v1.TestService";

    /// <summary>Completed when a Count stream saw its call end by cancellation (client gone or deadline).</summary>
    public TaskCompletionSource CountCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed when a Sleep handler that ignores cancellation has finished its late write attempt.</summary>
    public TaskCompletionSource<Exception?> LateWrite { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ServiceDefinition Definition() =>
        ServiceDefinition.CreateBuilder(Name)
            .AddUnary<EchoRequest, EchoResponse>("Echo", EchoRequest.Parser, EchoAsync)
            .AddServerStreaming<CountRequest, CountResponse>("Count", CountRequest.Parser, CountAsync)
            .AddUnary<FailRequest, EchoResponse>("Fail", FailRequest.Parser, (r, _) => throw new RpcException((StatusCode)r.Code, r.Message))
            .AddUnary<SleepRequest, EchoResponse>("Sleep", SleepRequest.Parser, SleepAsync)
            .Build();

    private static Task<EchoResponse> EchoAsync(EchoRequest request, ServerCallContext context) =>
        Task.FromResult(new EchoResponse
        {
            Message = request.Message,
            Payload = request.ResponseSize > 0 ? ByteString.CopyFrom(new byte[request.ResponseSize]) : request.Payload,
        });

    private async Task CountAsync(CountRequest request, IServerStreamWriter<CountResponse> writer, ServerCallContext context)
    {
        try
        {
            for (int n = 1; request.Count == 0 || n <= request.Count; n++)
            {
                await writer.WriteAsync(new CountResponse { N = n }, context.CancellationToken);
                if (request.IntervalMs > 0)
                {
                    await Task.Delay(request.IntervalMs, context.CancellationToken);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // A write can fail the moment the client resets the stream, a little before the call's token is
            // cancelled (Kestrel cancels RequestAborted on the thread pool): the handler counts as cancelled once
            // the token follows.
            if (await IsCancelledWithinAsync(context.CancellationToken, TimeSpan.FromSeconds(5)))
            {
                CountCancelled.TrySetResult();
            }

            throw;
        }

        if (request.FailCode != 0)
        {
            throw new RpcException((StatusCode)request.FailCode, request.FailMessage);
        }
    }

    private async Task<EchoResponse> SleepAsync(SleepRequest request, ServerCallContext context)
    {
        if (!request.IgnoreCancellation)
        {
            await Task.Delay(request.Milliseconds, context.CancellationToken);
            return new EchoResponse { Message = "slept" };
        }

        // A badly behaved handler: it never looks at its token. Its answer comes after the call has ended.
        await Task.Delay(request.Milliseconds, CancellationToken.None);
        return new EchoResponse { Message = "slept without looking" };
    }

    private static async Task<bool> IsCancelledWithinAsync(CancellationToken token, TimeSpan wait)
    {
        if (token.IsCancellationRequested)
        {
            return true;
        }

        try
        {
            await Task.Delay(wait, token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }
}
