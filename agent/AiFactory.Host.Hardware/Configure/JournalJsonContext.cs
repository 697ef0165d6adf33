using System.Text.Json.Serialization;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>Source-generated JSON for the journal (AOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JournalDocument))]
internal sealed partial class JournalJsonContext : JsonSerializerContext;
