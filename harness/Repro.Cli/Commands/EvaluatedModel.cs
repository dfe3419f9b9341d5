using System.Text.Json.Nodes;
using Repro.Core;
using Repro.Methods.Pipeline;

namespace Repro.Cli.Commands;

/// <summary>
/// The record an eval result file keeps of the model it measured: folder name, method and calibration from the model's
/// prune.json (read when it is evaluated), "dense" without one. Tables label rows from it, never by re-reading paths.
/// </summary>
public static class EvaluatedModel
{
    public static JsonObject Describe(string modelDir)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDir)));
        var prune = Path.Combine(modelDir, PruneReport.FileName);
        if (!File.Exists(prune)) return new JsonObject { ["folder"] = name, ["method"] = "dense", ["calibration"] = "dense" };
        JsonNode json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(prune)) ?? throw new FormatException("empty");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException)
        {
            throw new BadInputException($"{prune}: not a prune.json ({e.Message})");
        }
        if (JsonStrings.FindInvalid(json) is { } invalid) throw new BadInputException($"{prune}: {invalid}");
        var languages = json["calibration"]?["provenance"]?["spec"]?["languages"] switch
        {
            null => null,
            JsonArray array => array.Select((l, i) => StringOrNull(prune, l, $"calibration.provenance.spec.languages[{i}]")
                                                      ?? throw WrongType(prune, $"calibration.provenance.spec.languages[{i}]", l)).ToList(),
            var other => throw WrongType(prune, "calibration.provenance.spec.languages", other, "an array of language codes"),
        };
        return new JsonObject
        {
            ["folder"] = name,
            ["method"] = StringOrNull(prune, json["method"], "method") ?? "?",
            ["hyperParameters"] = json["hyperParameters"]?.DeepClone(),
            ["calibration"] = languages is { Count: > 0 } ? string.Join("+", languages) : "(no calibration)",
            ["seed"] = json["seed"]?.DeepClone(),
        };
    }

    /// <summary>The string at <paramref name="field"/>, null when the field is absent or null; any other type is the file's error.</summary>
    static string? StringOrNull(string file, JsonNode? node, string field) => node switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == System.Text.Json.JsonValueKind.String => value.GetValue<string>(),
        _ => throw WrongType(file, field, node),
    };

    static BadInputException WrongType(string file, string field, JsonNode? node, string wanted = "a string") =>
        new($"{file}: field '{field}' must be {wanted}, not {(node is null ? "null" : node.GetValueKind().ToString().ToLowerInvariant())}; " +
            "it was not written by `repro prune` or was edited: write it again");
}
