using System.CommandLine;
using TorchSharp;

namespace Repro.Cli.Commands;

public static class CommonOptions
{
    public static Option<string> Device() =>
        new("--device") { Description = "cpu (default), cuda or cuda:N", DefaultValueFactory = _ => "cpu" };

    public static Option<string> DType(string defaultValue) =>
        new("--dtype") { Description = "compute dtype: float32, bfloat16 or float16", DefaultValueFactory = _ => defaultValue };

    public static torch.ScalarType ParseDType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "float32" or "f32" or "fp32" => torch.float32,
        "bfloat16" or "bf16" => torch.bfloat16,
        "float16" or "f16" or "fp16" or "half" => torch.float16,
        _ => throw new BadInputException($"unknown dtype '{text}': use float32, bfloat16 or float16"),
    };

    /// <summary>Comma-separated language codes, e.g. "ar,de,en".</summary>
    public static IReadOnlyList<string> ParseLanguages(string text)
    {
        var langs = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return langs.Length > 0 ? langs : throw new BadInputException("--langs needs at least one language code, e.g. --langs ar,de,en");
    }

    /// <summary>Where an eval command writes its JSON without --out: <c>results/{kind}-{folder name}.json</c>.</summary>
    public static string DefaultResultPath(string kind, string modelFolder) =>
        Path.Combine("results", $"{kind}-{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder)))}.json");
}
