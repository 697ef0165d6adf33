using System.Text.Json;
using AiFactory.Cli.Output;
using AiFactory.Grpc;
using Google.Protobuf;

namespace AiFactory.Cli.Mig;

/// <summary>
/// <c>mig plan|apply</c> on each of several GPUs (a mig-parted config applies to every GPU it selects). Every GPU is
/// asked, whatever the ones before it answered; only an agent that stops answering (UNAVAILABLE, DEADLINE_EXCEEDED)
/// ends the batch, as every later call would wait out the same timeout, and so does a refusal of the config file itself. The results print as one JSON array, or as
/// one block per GPU headed by its bus id; a GPU that failed is named on stderr with its error.
/// </summary>
internal static class MigBatch
{
    /// <summary>A GPU to ask about: as the request names it, and its bus id where known before asking (from ListGpus).</summary>
    internal readonly record struct Target(string Gpu, string BusId);

    /// <summary>What the call for one GPU gave: its result, or the error in its place.</summary>
    internal sealed record Outcome<T>(Target Target, T? Result, RpcException? Error)
        where T : class, IMessage;

    public static async Task<List<Outcome<T>>> RunAsync<T>(IReadOnlyList<Target> targets, Func<string, Task<T>> call)
        where T : class, IMessage
    {
        var outcomes = new List<Outcome<T>>(targets.Count);
        foreach (Target target in targets)
        {
            try
            {
                outcomes.Add(new Outcome<T>(target, await call(target.Gpu).ConfigureAwait(false), null));
            }
            catch (RpcException ex)
            {
                outcomes.Add(new Outcome<T>(target, null, ex));
                if (RpcErrors.NoAnswer(ex) || IsConfigError(ex))
                {
                    break;
                }
            }
        }

        return outcomes;
    }

    /// <summary>
    /// True for the agent's refusal of the mig-parted config itself (INVALID_ARGUMENT on <c>mig_parted_config</c> or
    /// <c>mig_parted_select</c>: unreadable, or no such name): every GPU would get the same line, so the batch ends.
    /// </summary>
    internal static bool IsConfigError(RpcException ex) =>
        ex.StatusCode == StatusCode.InvalidArgument
        && (ex.Detail.StartsWith("mig_parted_config:", StringComparison.Ordinal) || ex.Detail.StartsWith("mig_parted_select:", StringComparison.Ordinal));

    /// <summary>
    /// One JSON array: per GPU, its result's protobuf JSON with <c>gpu</c> (as asked) added, or for a GPU whose call
    /// failed an object of <c>gpu</c>, <c>busId</c> (empty when only the agent knew it) and <c>error</c> (code, message).
    /// </summary>
    public static void WriteJson<T>(IReadOnlyList<Outcome<T>> outcomes, TextWriter o)
        where T : class, IMessage
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartArray();
            foreach (Outcome<T> outcome in outcomes)
            {
                if (outcome.Result is { } result)
                {
                    ProtoJson.Write(writer, result, ("gpu", outcome.Target.Gpu));
                    continue;
                }

                writer.WriteStartObject();
                writer.WriteString("gpu", outcome.Target.Gpu);
                writer.WriteString("busId", outcome.Target.BusId);
                writer.WriteStartObject("error");
                writer.WriteString("code", outcome.Error!.StatusCode.ToString());
                writer.WriteString("message", RpcErrors.Describe(outcome.Error));
                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        o.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>One line on <paramref name="error"/> per GPU whose call failed, naming the GPU.</summary>
    public static void WriteErrors<T>(IReadOnlyList<Outcome<T>> outcomes, TextWriter error)
        where T : class, IMessage
    {
        foreach (Outcome<T> outcome in outcomes)
        {
            if (outcome.Error is { } ex)
            {
                error.WriteLine($"aifactoryctl: {GlobalOptions.Quote(Header(outcome.Target, outcome.Target.BusId), int.MaxValue)}: {ex.StatusCode}: {GlobalOptions.Quote(RpcErrors.Describe(ex), int.MaxValue)}");
            }
        }
    }

    /// <summary>
    /// 0 when every GPU answered and none was <paramref name="refused"/>; else the worst status: 69 when the agent
    /// stopped answering, 1 for a GPU that failed or was refused.
    /// </summary>
    public static int ExitCode<T>(IReadOnlyList<Outcome<T>> outcomes, Func<T, bool> refused)
        where T : class, IMessage
    {
        int exit = ExitCodes.Ok;
        foreach (Outcome<T> outcome in outcomes)
        {
            int status = outcome.Error is { } ex ? RpcErrors.ExitCode(ex) : refused(outcome.Result!) ? ExitCodes.NotOk : ExitCodes.Ok;
            exit = Math.Max(exit, status);
        }

        return exit;
    }

    /// <summary>How a GPU's block is headed: its bus id, with the index or UUID it was asked by when that differs.</summary>
    internal static string Header(Target target, string busId) =>
        busId.Length == 0 ? $"GPU {target.Gpu}" : target.Gpu == busId ? busId : $"{busId} (GPU {target.Gpu})";
}
