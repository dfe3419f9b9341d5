using System.Text.Json;
using Repro.Core;
using Repro.Core.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Methods.Tests;

/// <summary>
/// One golden file written by tools/reference/{sparsegpt,gptq}_golden.py from the reference
/// implementation: its tensors (float32, CPU), the case's parameters and the loss the reference printed.
/// </summary>
sealed class GoldenCase : IDisposable
{
    readonly SafetensorsFile file;

    GoldenCase(string path)
    {
        file = SafetensorsFile.Open(path);
        Name = Path.GetFileNameWithoutExtension(path);
        Parameters = JsonDocument.Parse(file.Metadata["params"]).RootElement.Clone();
        ReferenceLoss = double.Parse(file.Metadata["loss"], System.Globalization.CultureInfo.InvariantCulture);
        ReferenceCommit = file.Metadata["reference_commit"];
    }

    public string Name { get; }
    public JsonElement Parameters { get; }
    public double ReferenceLoss { get; }
    public string ReferenceCommit { get; }

    public Tensor this[string name] => file.Load(name);

    public static string Folder(string method) => Path.Combine(RepoPaths.Root, "methods", "Repro.Methods.Tests", "Golden", method);

    public static IEnumerable<string> Names(string method) =>
        Directory.EnumerateFiles(Folder(method), "*.safetensors").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!;

    public static GoldenCase Open(string method, string name) => new(Path.Combine(Folder(method), name + ".safetensors"));

    public void Dispose() => file.Dispose();
}
