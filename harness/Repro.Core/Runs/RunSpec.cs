using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Repro.Core.Runs;

/// <summary>
/// Everything that decides one run's numbers, as a plain value: which model (by content, never by path), which method
/// with which hyper-parameters, which calibration data, which evaluations, on which kind of device in which dtype, and
/// which code. Its <see cref="Hash"/> (SHA-256 of <see cref="CanonicalJson"/>) names the run's result file, so the same
/// spec finds the same file in any process on any machine, a finished run is reused and an interrupted grid resumes.
/// </summary>
/// <param name="Calibration">Null for the dense baseline and for methods that read no activations (magnitude).</param>
public sealed record RunSpec(ModelIdentity Model, MethodSpec Method, CalibrationRecipe? Calibration,
                             IReadOnlyList<EvaluationSpec> Evaluations, ComputeSpec Compute, CodeVersionRecord Code)
{
    public const string Format = "repro-run-spec/1";

    /// <summary>Recorded, and hashed, so a spec of another layout never collides with this one.</summary>
    [JsonPropertyOrder(-1)] public string SpecFormat { get; init; } = Format;

    /// <summary>64 hex digits over the canonical form of every field above.</summary>
    [JsonIgnore] public string Hash => hash ??= CanonicalJson.Sha256(this);
    string? hash;

    /// <summary>
    /// <c>{model}-{method}-{calibration}-s{seed}-{hash[..16]}</c>: readable in a listing, unique by the hash. Only
    /// characters safe in every file system; the hash alone decides identity.
    /// </summary>
    [JsonIgnore] public string FileStem => string.Join('-',
        new[] { Model.Name, Method.Label, Calibration is null ? "nocalib" : string.Join('+', Calibration.Languages), Calibration is null ? null : $"s{Calibration.Seed}", Hash[..16] }
            .OfType<string>().Select(Slug));

    /// <summary>A short description for progress lines and errors.</summary>
    public override string ToString() =>
        $"{Model.Name} {Method.Label}" + (Calibration is { } c ? $" calibrated on {string.Join('+', c.Languages)} (seed {c.Seed}, {c.NSamples} × {c.Seqlen})" : "");

    static string Slug(string text) => new([.. text.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '.' or '+' or '_' or '-' ? ch : '_')]);
}

/// <summary>A model by content: its config.json and every weight file by SHA-256. <see cref="Name"/> labels rows and files.</summary>
public sealed record ModelIdentity(string Name, string ConfigSha256, IReadOnlyList<FileDigest> Weights);

/// <param name="File">Name relative to its folder (never an absolute path).</param>
public sealed record FileDigest(string File, long Bytes, string Sha256);

/// <summary>A method by name and every hyper-parameter that changes its result (the method's own record of them).</summary>
/// <param name="Label">How rows and files name it, e.g. <c>wanda-0.5</c>, <c>gptq-4b-g128</c>, <c>dense</c>.</param>
public sealed record MethodSpec(string Name, string Label, JsonObject HyperParameters)
{
    public const string DenseName = "dense";
    public static MethodSpec Dense { get; } = new(DenseName, DenseName, []);
    [JsonIgnore] public bool IsDense => Name == DenseName;
}

/// <summary>
/// The calibration set (METHODS §1): languages in equal shares (<see cref="Shares"/> as the sampler splits
/// <see cref="NSamples"/>), windows of <see cref="Seqlen"/> tokens drawn with <see cref="Seed"/> from the
/// <see cref="Split"/> split of corpora identified by content.
/// </summary>
public sealed record CalibrationRecipe(IReadOnlyList<string> Languages, IReadOnlyList<int> Shares, int NSamples, int Seqlen, int Seed,
                                       string Split, bool AllowRepeatedText, IReadOnlyList<CorpusDigest> Corpora);

public sealed record CorpusDigest(string Language, string File, string Sha256);

/// <summary>
/// One evaluation a run performs on its compressed model. <see cref="Kind"/> is <c>ppl</c> (windowed perplexity and
/// bits per byte), <c>hidden</c> (SNR and pruning error of every layer's outputs against the dense model) or
/// <c>mc</c> (multiple-choice accuracy); fields that a kind does not use are null.
/// </summary>
/// <param name="Texts">The evaluated files by content: corpus files for ppl/hidden, task files for mc.</param>
/// <param name="Bos">ppl: <c>stream</c> or <c>window</c>; hidden: <c>stream</c>; mc: <c>prefix</c> or <c>none</c>.</param>
/// <param name="Task">mc: the task's name (its folder), e.g. <c>belebele-style</c>.</param>
/// <param name="Format">mc: <c>letters</c> or <c>cloze</c>.</param>
public sealed record EvaluationSpec(string Kind, IReadOnlyList<string> Languages, string? Split, int? Seqlen, int? Windows, string Bos,
                                    IReadOnlyList<CorpusDigest> Texts, string? Task = null, string? Format = null, int? Shots = null, int? Limit = null)
{
    public const string Perplexity = "ppl", Hidden = "hidden", MultipleChoice = "mc";
}

/// <param name="Device">The kind of device (<c>cpu</c>, <c>cuda</c>); which GPU of a machine does not change a result.</param>
public sealed record ComputeSpec(string Device, string DType);

/// <param name="Version">The commit the code was built from, or the assembly version outside a checkout.</param>
/// <param name="Dirty">The working tree differed from that commit; <see cref="DiffSha256"/> then says how.</param>
public sealed record CodeVersionRecord(string Version, bool Dirty, string? DiffSha256);
