using System.Globalization;
using System.Text.Json.Nodes;

namespace Repro.Core.Claims;

/// <summary>A rule's parameters from its claim file; a missing or mistyped one is an error naming the file and the key.</summary>
public sealed class RuleParameters(JsonObject values, string source)
{
    public static RuleParameters Empty { get; } = new([], "(none)");

    public double Number(string key, double? fallback = null)
    {
        if (values[key] is JsonValue v && v.TryGetValue<double>(out var d)) return d;
        if (values[key] is null && fallback is { } f) return f;
        throw new ClaimFileException(source, $"rule parameter '{key}' must be a number{(values[key] is null ? " and is missing" : $", not {values[key]!.ToJsonString()}")}");
    }

    public string Text(string key, string? fallback = null)
    {
        if (values[key] is JsonValue v && v.TryGetValue<string>(out var s)) return s;
        if (values[key] is null && fallback is not null) return fallback;
        throw new ClaimFileException(source, $"rule parameter '{key}' must be a string{(values[key] is null ? " and is missing" : "")}");
    }

    public IReadOnlyList<string> Texts(string key, IReadOnlyList<string>? fallback = null)
    {
        if (values[key] is JsonArray a && a.All(x => x is JsonValue xv && xv.TryGetValue<string>(out _))) return [.. a.Select(x => (string)x!)];
        if (values[key] is null && fallback is not null) return fallback;
        throw new ClaimFileException(source, $"rule parameter '{key}' must be a list of strings{(values[key] is null ? " and is missing" : "")}");
    }

    public string Describe() => string.Join(", ", values.Select(p => $"{p.Key} = {p.Value?.ToJsonString()}"));

    public static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}

public sealed class ClaimFileException(string path, string problem) : InputFileException(path, problem);
