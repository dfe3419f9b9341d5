using System.Text.Json;
using System.Text.Json.Nodes;

namespace Repro.Core;

/// <summary>
/// JSON may spell a lone UTF-16 surrogate as an escape (<c>"\udc00"</c>): System.Text.Json parses such a file and
/// throws <see cref="InvalidOperationException"/> only when the string is read, deep inside whatever reads it. Readers
/// of untrusted JSON check the whole document once after parsing, so that bad text is an input error naming the
/// file and the JSON path, and later reads cannot fail.
/// </summary>
public static class JsonStrings
{
    /// <summary>
    /// The path (<c>$.model.vocab["x"]</c>) and reason of the first property name or string value in
    /// <paramref name="root"/> that is not valid Unicode text, or null when all are.
    /// </summary>
    public static string? FindInvalid(JsonElement root) => Find(root, "$");

    /// <inheritdoc cref="FindInvalid(JsonElement)"/>
    public static string? FindInvalid(JsonNode? root) => Find(root, "$");

    /// <summary>The string of <paramref name="element"/>, or null with <paramref name="problem"/> saying why it cannot be read.</summary>
    public static string? TryGetString(JsonElement element, out string? problem)
    {
        try
        {
            problem = null;
            return element.GetString();
        }
        catch (InvalidOperationException e) when (element.ValueKind == JsonValueKind.String)
        {
            problem = Reason(e);
            return null;
        }
    }

    static string? Find(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException e)
                    {
                        return $"a property name in {path} is not valid Unicode text ({Reason(e)})";
                    }
                    if (Find(property.Value, Child(path, name)) is { } found) return found;
                }
                return null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                    if (Find(item, $"{path}[{i++}]") is { } found) return found;
                return null;
            case JsonValueKind.String:
                TryGetString(element, out var problem);
                return problem is null ? null : $"the string at {path} is not valid Unicode text ({problem})";
            default:
                return null;
        }
    }

    static string? Find(JsonNode? node, string path)
    {
        switch (node)
        {
            case JsonObject obj:
                // A JsonObject built by parsing has already decoded its property names; a bad one throws while enumerating.
                try
                {
                    foreach (var (name, value) in obj)
                        if (Find(value, Child(path, name)) is { } found) return found;
                }
                catch (InvalidOperationException e)
                {
                    return $"a property name in {path} is not valid Unicode text ({Reason(e)})";
                }
                return null;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                    if (Find(array[i], $"{path}[{i}]") is { } found) return found;
                return null;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                try
                {
                    value.GetValue<string>();
                    return null;
                }
                catch (InvalidOperationException e)
                {
                    return $"the string at {path} is not valid Unicode text ({Reason(e)})";
                }
            default:
                return null;
        }
    }

    /// <summary>
    /// Whether <paramref name="e"/> is System.Text.Json refusing to decode a string: a parse that checks duplicate
    /// property names decodes every name while parsing, so a bad one fails there instead of in a later read.
    /// </summary>
    public static bool IsInvalidText(InvalidOperationException e) =>
        e.Source?.StartsWith("System.Text.Json", StringComparison.Ordinal) == true;

    static string Child(string path, string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && !char.IsAsciiDigit(name[0])
            ? $"{path}.{name}"
            : $"{path}[{JsonSerializer.Serialize(Shorten(name))}]";

    static string Shorten(string name)
    {
        if (name.Length <= 40) return name;
        var cut = char.IsHighSurrogate(name[39]) ? 39 : 40;
        return name[..cut] + "…";
    }

    static string Reason(InvalidOperationException e) =>
        e.Message.Contains("surrogate", StringComparison.OrdinalIgnoreCase)
            ? $"an escaped lone surrogate: {e.Message}"
            : e.Message;
}
