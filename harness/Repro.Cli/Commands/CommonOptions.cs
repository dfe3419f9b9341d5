using System.CommandLine;
using TorchSharp;

namespace Repro.Cli.Commands;

public static class CommonOptions
{
    public static Option<string> Device() =>
        new("--device") { Description = "cpu (default), cuda or cuda:N", DefaultValueFactory = _ => "cpu" };

    public static Option<string> DType(string defaultValue) =>
        new("--dtype") { Description = "compute dtype: float32, bfloat16 or float16", DefaultValueFactory = _ => defaultValue };

    public static torch.ScalarType ParseDType(string text) => Repro.Methods.Runs.RunExecutor.ParseDType(text);

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
