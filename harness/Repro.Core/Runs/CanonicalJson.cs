using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Repro.Core.Runs;

/// <summary>
/// The canonical form a run spec is hashed in (see README.md beside this file): UTF-8 JSON, object members sorted
/// by ordinal key, arrays in their order, no whitespace, nulls kept, strings with only the escapes JSON requires
/// (<c>"</c>, <c>\</c>, control characters), numbers as System.Text.Json writes a double: the shortest text that
/// reads back to the same value. Two processes, machines or .NET versions that agree on the value agree on the
/// bytes; <c>string.GetHashCode</c> changes with every process, so it can never name a file.
/// </summary>
public static class CanonicalJson
{
    static readonly JsonSerializerOptions ValueOptions = new(ResultFiles.Options) { WriteIndented = false };
    static readonly JsonWriterOptions WriterOptions = new() { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The canonical bytes of <paramref name="value"/> serialized with <see cref="ResultFiles.Options"/>' naming.</summary>
    public static byte[] Bytes<T>(T value) => Bytes(JsonSerializer.SerializeToNode(value, ValueOptions));

    public static byte[] Bytes(JsonNode? node)
    {
        // Through text first, so a node built in code (decimals, longs) and one parsed from a file look the same.
        using var document = JsonDocument.Parse(node?.ToJsonString() ?? "null");
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions)) Write(writer, document.RootElement);
        return stream.ToArray();
    }

    public static string Text<T>(T value) => Encoding.UTF8.GetString(Bytes(value));

    /// <summary>Lower-case hex SHA-256 of the canonical bytes.</summary>
    public static string Sha256<T>(T value) => Convert.ToHexStringLower(SHA256.HashData(Bytes(value)));

    static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var member in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(member.Name);
                    Write(writer, member.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var child in element.EnumerateArray()) Write(writer, child);
                writer.WriteEndArray();
                break;
            case JsonValueKind.Number:
                // One spelling per value: 0.5, 5E-1 and 0.50 all become 0.5; whole numbers are written without a fraction.
                if (element.TryGetInt64(out var whole)) writer.WriteNumberValue(whole);
                else
                {
                    var number = element.GetDouble();
                    if (number == Math.Floor(number) && Math.Abs(number) < 1e15) writer.WriteNumberValue((long)number);
                    else writer.WriteNumberValue(number);
                }
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(element.GetString());
                break;
            case JsonValueKind.True:
            case JsonValueKind.False:
                writer.WriteBooleanValue(element.GetBoolean());
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }
}
