using Google.Protobuf;

namespace AiFactory.Cli.Output;

/// <summary>Prints a response in the canonical protobuf JSON mapping.</summary>
internal static class ProtoJson
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithIndentation());

    public static void Print(IMessage message) => Console.Out.WriteLine(Format(message));

    /// <summary><paramref name="message"/> as indented protobuf JSON.</summary>
    public static string Format(IMessage message) => Formatter.Format(message);

    /// <summary>Prints <paramref name="message"/>'s JSON object with <paramref name="extra"/> string fields added after its own.</summary>
    public static void Print(IMessage message, params (string Name, string Value)[] extra)
    {
        var buffer = new System.IO.MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            Write(writer, message, extra);
        }

        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>Writes <paramref name="message"/>'s JSON object with <paramref name="extra"/> string fields after its own, as one value of a larger document.</summary>
    public static void Write(System.Text.Json.Utf8JsonWriter writer, IMessage message, params (string Name, string Value)[] extra)
    {
        using System.Text.Json.JsonDocument document = System.Text.Json.JsonDocument.Parse(Formatter.Format(message));
        writer.WriteStartObject();
        foreach (System.Text.Json.JsonProperty property in document.RootElement.EnumerateObject())
        {
            property.WriteTo(writer);
        }

        foreach ((string name, string value) in extra)
        {
            writer.WriteString(name, value);
        }

        writer.WriteEndObject();
    }

    /// <summary>Prints a JSON object of <paramref name="fields"/>, then <paramref name="nestedName"/> holding an object of <paramref name="nested"/>.</summary>
    public static void Print((string Name, string Value)[] fields, string nestedName, params (string Name, string Value)[] nested)
    {
        var buffer = new System.IO.MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            foreach ((string name, string value) in fields)
            {
                writer.WriteString(name, value);
            }

            writer.WriteStartObject(nestedName);
            foreach ((string name, string value) in nested)
            {
                writer.WriteString(name, value);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
