using System.Text.Json.Serialization;

namespace Repro.Core.Runs;

/// <summary>
/// What one finished run measured, as written to the result store: the spec it ran (and its hash, checked on read),
/// every number as a <see cref="Measurement"/>, what the method achieved, where and how long it ran.
/// </summary>
public sealed record RunResult(RunSpec Spec, string SpecHash, IReadOnlyList<Measurement> Measurements, CompressionSummary? Compression, string Commit,
                               RunMachine Machine, DateTimeOffset StartedUtc, double Seconds)
{
    public const string CurrentFormat = "repro-run-result/1";
    [JsonPropertyOrder(-1)] public string Format { get; init; } = CurrentFormat;
}

/// <summary>
/// One number with what it means: metric (<c>ppl</c>, <c>bpb</c>, <c>snr</c>, <c>pe</c>, <c>acc</c>, <c>acc_norm</c>)
/// in one evaluation language, which way is better, its standard error where the metric has one, and the
/// fingerprint of the evaluation that produced it. Tables only put numbers side by side whose fingerprints agree.
/// </summary>
public sealed record Measurement(string Metric, string Language, double Value, bool HigherIsBetter, double? StdErr, EvaluationFingerprint Fingerprint)
{
    [JsonIgnore] public bool IsFinite => double.IsFinite(Value);
}

/// <summary>
/// What must be equal for two numbers of one metric and language to be comparable: the evaluation's kind and settings
/// and the exact text (or task file) it read, by SHA-256. For <c>hidden</c>, <see cref="Reference"/> is the dense model
/// the states were compared with.
/// </summary>
public sealed record EvaluationFingerprint(string Kind, string? Split, int? Seqlen, int? Windows, string Bos, string TextSha256,
                                           string? Task = null, string? Format = null, int? Shots = null, string? Reference = null,
                                           string? DType = null)
{
    /// <summary>The first field (by name) in which the two differ, or null when they are equal.</summary>
    public string? FirstDifference(EvaluationFingerprint other)
    {
        foreach (var property in typeof(EvaluationFingerprint).GetProperties().Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract"))
            if (!Equals(property.GetValue(this), property.GetValue(other))) return char.ToLowerInvariant(property.Name[0]) + property.Name[1..];
        return null;
    }
}

/// <param name="Sparsity">Zeros over elements of the linear sublayers as written; for structured pruning, which removes
/// weights instead of zeroing them, the parameters removed over the model's parameters (<paramref name="Zeros"/> of
/// <paramref name="Elements"/>).</param>
public sealed record CompressionSummary(double Sparsity, long Zeros, long Elements, double Seconds, IReadOnlyList<string> RepeatedTextLanguages);

/// <summary>Where a run ran: for the report, never part of the spec.</summary>
public sealed record RunMachine(string Host, string Os, int Cores, string Device, string DType, string Runtime)
{
    public static RunMachine Current(string device, string dtype) =>
        new(Environment.MachineName, System.Runtime.InteropServices.RuntimeInformation.OSDescription, Environment.ProcessorCount,
            device, dtype, System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
}
