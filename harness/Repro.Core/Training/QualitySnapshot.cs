using System.Text.Json;
using Repro.Core.Corpora;
using Repro.Core.Evaluation;
using Repro.Core.Models;
using Repro.Core.Runs;

namespace Repro.Core.Training;

/// <summary>
/// The reviewed record of a committed fixture model's quality (<c>expectations/snapshots/fixture-models/{preset}.json</c>):
/// per language, validation bits per byte next to the unigram byte entropy of the same text, the bar the trained
/// languages must clear, and the tolerance within which a re-measurement must reproduce each figure. Written by
/// <c>repro fixtures snapshot</c> from a fresh measurement of the saved folder, never from typed-in numbers.
/// </summary>
public sealed record QualitySnapshot
{
    public const string FormatName = "repro-model-quality/1";
    public const string FolderName = "fixture-models";

    public string Format { get; init; } = FormatName;
    /// <summary>The model folder, relative to the repository root.</summary>
    public required string Model { get; init; }
    /// <summary>The <c>repro eval ppl</c> command that prints the same table.</summary>
    public required string Reproduce { get; init; }
    public required string Split { get; init; }
    public required int Seqlen { get; init; }
    public required int WindowsPerLanguage { get; init; }
    public required BosPolicy BosPolicy { get; init; }
    /// <summary>Every trained language: bits/byte ≤ this × its unigram byte entropy.</summary>
    public required double MaxEntropyRatio { get; init; }
    /// <summary>Absolute tolerance on a re-measured bits per byte (batching and BLAS order move the last digits).</summary>
    public required double BitsPerByteTolerance { get; init; }
    /// <summary>
    /// A trained language with fewer training tokens than this is not held to the bar: a few hundred bytes seen for
    /// dozens of epochs are memorised, not learnt, and its validation text says nothing about the model. Recorded
    /// per language in <see cref="Exempt"/>.
    /// </summary>
    public required long MinTrainingTokensForBar { get; init; }
    public required IReadOnlyList<BarExemption> Exempt { get; init; }
    public required IReadOnlyList<LanguageQuality> Languages { get; init; }
    public required string CodeVersion { get; init; }

    /// <summary>Where the snapshot of a preset's committed model lives.</summary>
    public static string PathFor(string preset) => Path.Combine(RepoPaths.Expectations, "snapshots", FolderName, preset + ".json");

    /// <summary>Trained languages held to the bar (not <see cref="Exempt"/>).</summary>
    public bool HeldToBar(LanguageQuality language) => language.Trained && Exempt.All(e => e.Language != language.Language);

    /// <summary>Languages held to the bar and over it; empty when the model meets it.</summary>
    public IReadOnlyList<string> FailingLanguages =>
        [.. Languages.Where(l => HeldToBar(l) && !(l.EntropyRatio <= MaxEntropyRatio)).Select(l => l.Language)];

    /// <summary>The trained languages of <paramref name="record"/> with fewer than <paramref name="minTokens"/> training tokens.</summary>
    public static IReadOnlyList<BarExemption> ExemptionsOf(TrainingRecord record, long minTokens) =>
        [.. record.LanguageShares.Where(s => s.TrainingTokens < minTokens)
                  .Select(s => new BarExemption(s.Language, s.TrainingTokens, s.Epochs,
                      $"{s.TrainingTokens} training tokens, seen {s.Epochs:F0} times: memorised, too little text to generalise from"))];

    /// <summary>
    /// Measures <paramref name="model"/> on the validation split of every language its training record lists, with the
    /// record's window length and count (the leading windows, BOS at the start of the stream, as training evaluated it).
    /// </summary>
    public static IReadOnlyList<LanguageQuality> Measure(ILanguageModel model, Tokenizers.ITextTokenizer tokenizer, CorpusDirectory corpora,
                                                         TrainingEvaluation evaluation)
    {
        var languages = evaluation.Languages;
        var probe = ValidationProbe.Create(languages.Select(l => corpora.Load(l.Language, TrainingData.ValidationSplit)), tokenizer,
                                           evaluation.Seqlen, evaluation.WindowsPerLanguage);
        var measured = probe.Evaluate(model);
        return [.. languages.Select((l, i) => LanguageQuality.From(measured[i], probe.Texts[i], l.Trained))];
    }

    public static QualitySnapshot Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no quality snapshot; write it with `repro fixtures snapshot`", path);
        try
        {
            var snapshot = JsonSerializer.Deserialize<QualitySnapshot>(File.ReadAllText(path), TrainedModelFolder.RecordJson)
                           ?? throw new JsonException("the file holds null");
            return snapshot.Format == FormatName ? snapshot
                : throw new JsonException($"format '{snapshot.Format}' is not {FormatName}");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a model-quality snapshot: {e.Message}", e);
        }
    }

    public void Write(string path) => ResultFiles.WriteJson(path, this);
}

/// <summary>A trained language left out of the quality bar, and why.</summary>
public sealed record BarExemption(string Language, long TrainingTokens, double Epochs, string Reason);
