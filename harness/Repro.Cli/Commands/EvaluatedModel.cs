using System.Text.Json.Nodes;
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
        var languages = json["calibration"]?["provenance"]?["spec"]?["languages"]?.AsArray().Select(l => (string)l!).ToList();
        return new JsonObject
        {
            ["folder"] = name,
            ["method"] = (string?)json["method"] ?? "?",
            ["hyperParameters"] = json["hyperParameters"]?.DeepClone(),
            ["calibration"] = languages is { Count: > 0 } ? string.Join("+", languages) : "(no calibration)",
            ["seed"] = json["seed"]?.DeepClone(),
        };
    }
}
