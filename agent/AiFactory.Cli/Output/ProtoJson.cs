using Google.Protobuf;

namespace AiFactory.Cli.Output;

/// <summary>Prints a response in the canonical protobuf JSON mapping.</summary>
internal static class ProtoJson
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithIndentation());

    public static void Print(IMessage message) => Console.Out.WriteLine(Formatter.Format(message));
}
