using Repro.Core;
using Repro.Core.Corpora;
using Repro.Core.Runs;
using Repro.Core.Tasks;

namespace Repro.Methods.Runs;

/// <summary>
/// A run as a person or a claim grid says it ("Wanda 0.5 on the tiny model calibrated on de, seed 1, evaluated by
/// perplexity on seven languages"), with the folders it reads. <see cref="Spec"/> turns it into the content-addressed
/// <see cref="RunSpec"/> (hashing the model, corpus and task files), which is what names and identifies the result.
/// </summary>
/// <param name="ModelName">The label the model has in results (e.g. <c>tiny</c>, <c>Llama-3-8B-Instruct</c>).</param>
/// <param name="Method">Null for the dense baseline: the model itself is evaluated.</param>
/// <param name="Calibration">Needed when the method reads activations; ignored otherwise.</param>
public sealed record RunRequest(string ModelName, string ModelDir, MethodChoice? Method, CalibrationChoice? Calibration,
                                IReadOnlyList<EvaluationChoice> Evaluations, string CorpusDir, string? TaskRoot = null,
                                string Device = "cpu", string DType = "float32")
{
    RunSpec? spec;

    /// <summary><c>with</c> copies every field; a changed copy must compute its own spec, not keep the original's.</summary>
    RunRequest(RunRequest original) =>
        (ModelName, ModelDir, Method, Calibration, Evaluations, CorpusDir, TaskRoot, Device, DType) =
        (original.ModelName, original.ModelDir, original.Method, original.Calibration, original.Evaluations, original.CorpusDir,
         original.TaskRoot, original.Device, original.DType);

    public RunSpec Spec => spec ??= BuildSpec();

    RunSpec BuildSpec()
    {
        var model = ModelIdentities.Of(ModelName, ModelDir);
        var method = Method is null ? MethodSpec.Dense : Method.Spec();
        var needsCalibration = Method is not null && Method.Create().NeedsCalibration;
        CalibrationRecipe? calibration = null;
        if (needsCalibration)
        {
            var c = Calibration ?? throw new InputException($"method '{method.Name}' needs calibration data, and the run names none");
            var corpora = CorpusDirectory.Open(CorpusDir);
            var shares = new Repro.Core.Calibration.CalibrationSpec(c.Languages, c.NSamples, c.Seqlen, c.Seed).Shares();
            calibration = new CalibrationRecipe(c.Languages, [.. shares.Select(s => s.Count)], c.NSamples, c.Seqlen, c.Seed, c.Split, c.AllowRepeatedText,
                                                [.. c.Languages.Select(l => Digest(corpora, l, c.Split))]);
        }
        var evaluations = Evaluations.Select(e => e.Spec(this)).ToList();
        var compute = new ComputeSpec(Device.Split(':')[0].Trim().ToLowerInvariant(), DType.Trim().ToLowerInvariant());
        return new RunSpec(model, method, calibration, evaluations, compute, CodeVersion.Record);
    }

    internal static CorpusDigest Digest(CorpusDirectory corpora, string language, string split)
    {
        var path = corpora.PathOf(language, split);
        return new CorpusDigest(language, Path.GetRelativePath(corpora.Root, path), ModelIdentities.FileSha256(path));
    }
}

/// <summary>A method by registry name and options; <see cref="Kind"/> says which of a dual-use method's roles (pruning or quantization).</summary>
public sealed record MethodChoice(string Name, MethodOptions Options, MethodKinds Kind = MethodKinds.Pruning)
{
    public IMethod Create() => MethodRegistry.Find(MethodRegistry.Default, Name, Kind).Create(Options);

    public MethodSpec Spec()
    {
        var method = Create();
        return new MethodSpec(method.Name, Options.Label(method.Name, Kind), method.HyperParameters);
    }
}

/// <param name="AllowRepeatedText">Sample languages whose text is shorter than their share × seqlen (recorded per language).</param>
public sealed record CalibrationChoice(IReadOnlyList<string> Languages, int NSamples, int Seqlen, int Seed,
                                       string Split = Repro.Core.Calibration.CalibrationSampler.Split, bool AllowRepeatedText = false);

/// <summary>One evaluation of a run, before its files are hashed; see <see cref="EvaluationSpec"/> for the fields.</summary>
public sealed record EvaluationChoice(string Kind, IReadOnlyList<string> Languages, string Split = "validation", int Seqlen = 256, int? Windows = 16,
                                      string Bos = "stream", string? Task = null, string Format = "cloze", int Shots = 0, int? Limit = null)
{
    internal EvaluationSpec Spec(RunRequest run)
    {
        switch (Kind)
        {
            case EvaluationSpec.Perplexity or EvaluationSpec.Hidden:
                var corpora = CorpusDirectory.Open(run.CorpusDir);
                return new EvaluationSpec(Kind, Languages, Split, Seqlen, Windows, Kind == EvaluationSpec.Hidden ? "stream" : Bos,
                                          [.. Languages.Select(l => RunRequest.Digest(corpora, l, Split))]);
            case EvaluationSpec.MultipleChoice:
                var folder = TaskFolder(run);
                return new EvaluationSpec(Kind, Languages, null, null, null, Bos, [.. Languages.Select(l =>
                {
                    var file = TaskFiles.Find(folder, l);
                    return new CorpusDigest(l, Path.GetFileName(file), ModelIdentities.FileSha256(file));
                })], Task, Format, Shots, Limit);
            default:
                throw new InputException($"unknown evaluation kind '{Kind}'; known: {EvaluationSpec.Perplexity}, {EvaluationSpec.Hidden}, {EvaluationSpec.MultipleChoice}");
        }
    }

    internal string TaskFolder(RunRequest run) =>
        Path.Combine(run.TaskRoot ?? throw new InputException($"evaluation '{Kind}' of task '{Task}' needs a task folder, and the run names none"),
                     Task ?? throw new InputException("a multiple-choice evaluation needs a task name"));
}

/// <summary>Belebele-layout task files of a folder, named by FLORES-200 dialect as facebook/belebele ships them.</summary>
public static class TaskFiles
{
    /// <summary>A language code's Belebele dialect (ar → arb_Arab), or the argument itself when it already is one.</summary>
    public static string Dialect(string language) =>
        language.Contains('_', StringComparison.Ordinal) ? language
        : BelebeleDialects.Of(language)
          ?? throw new InputException($"no Belebele dialect known for '{language}'; give the dialect itself (e.g. arb_Arab) or one of " +
                                         string.Join(", ", BelebeleDialects.All.Select(d => d.Language)));

    /// <summary>DIR/{dialect}.jsonl or .jsonl.gz for a language code or dialect; a missing one lists what the folder holds.</summary>
    public static string Find(string folder, string language)
    {
        var dialect = Dialect(language);
        if (!Directory.Exists(folder)) throw new InputException($"{folder}: task folder not found; check --tasks");
        foreach (var extension in new[] { ".jsonl", ".jsonl.gz" })
        {
            var path = Path.Combine(folder, dialect + extension);
            if (File.Exists(path)) return path;
        }
        var present = Directory.EnumerateFiles(folder, "*.jsonl*").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        throw new InputException($"{folder}: no {dialect}.jsonl or {dialect}.jsonl.gz; the folder holds: {string.Join(", ", present)}");
    }
}
