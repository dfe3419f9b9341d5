using System.Text.Json;
using Repro.Core.Corpora;
using Repro.Core.Models;
using Repro.Core.Tokenizers;
using Repro.Core.Training;
using TorchSharp;

namespace Repro.Core.Tests.Training;

/// <summary>
/// The models under fixtures/models are what their preset and the committed corpora make: a changed preset or
/// corpus fails here until the model is retrained, and the recorded quality is re-measured, not trusted.
/// </summary>
public sealed class CommittedModelTests
{
    static IEnumerable<TestCaseData> Presets() =>
        TrainingPresets.All.Select(p => new TestCaseData(p.Name).SetArgDisplayNames(p.Name));

    static string ModelFolder(string preset) => Path.Combine(RepoPaths.Fixtures, "models", preset);

    static (TrainingPreset Preset, string Folder, TrainingRecord Record) Committed(string name)
    {
        var folder = ModelFolder(name);
        var recordPath = Path.Combine(folder, TrainedModelFolder.RecordFileName);
        // The fixture models are committed: a missing record is a broken checkout or a model nobody can trace, not a skip.
        if (!File.Exists(recordPath))
            Assert.Fail($"{recordPath} is missing: the committed model cannot be traced to its preset and corpora; " +
                        $"./repro fixtures train --preset {name} --data fixtures/corpora --out fixtures/models/{name} rebuilds it");
        var record = TrainedModelFolder.ReadRecord(folder);
        return (TrainingPresets.Get(name), folder, record);
    }

    [TestCaseSource(nameof(Presets))]
    public void Preset_config_and_options_are_valid(string name)
    {
        var preset = TrainingPresets.Get(name);
        var config = ModelConfig.FromJson(preset.ConfigJson(), $"{name} preset");
        Assert.That(config.VocabSize, Is.EqualTo(new ByteTokenizer().VocabSize));
        Assert.That(config.NumAttentionHeads, Is.GreaterThan(config.NumKeyValueHeads), "GQA");
        Assert.That(() => preset.Options.Validated(), Throws.Nothing);
        Assert.That(preset.Options.ExcludedLanguages, Is.EqualTo(new[] { "sw" }));
    }

    [TestCaseSource(nameof(Presets))]
    public void Committed_model_is_its_preset_trained_on_the_committed_corpora(string name)
    {
        var (preset, folder, record) = Committed(name);
        Assert.That(record.Preset, Is.EqualTo(name));
        Assert.That(record.Shape, Is.EqualTo(preset.Shape), "the preset's shape changed: retrain the model");
        Assert.That(JsonSerializer.Serialize(record.Options), Is.EqualTo(JsonSerializer.Serialize(preset.Options)),
                    "the preset's options changed: retrain the model");
        Assert.That(Path.IsPathRooted(record.Data), Is.False, "training.json must not carry a machine's absolute path");

        var corpora = CorpusDirectory.Open(Path.Combine(RepoPaths.Fixtures, "corpora"));
        foreach (var f in record.Corpora)
            Assert.That(corpora.Load(f.Language, f.Split).ContentSha256(), Is.EqualTo(f.ContentSha256),
                        $"fixtures/corpora/{f.Language}/{f.Split} changed since {name} was trained: retrain the model");

        using var loaded = LoadedModel.Open(folder, torch.CPU, torch.ScalarType.Float32);
        Assert.That(loaded.Config, Is.EqualTo(ModelConfig.FromJson(preset.ConfigJson(record.SavedDType), "preset")));
    }

    [TestCaseSource(nameof(Presets))]
    public void Committed_model_meets_the_quality_bar_as_re_measured(string name)
    {
        var (_, folder, record) = Committed(name);
        var snapshotPath = QualitySnapshot.PathFor(name);
        Assert.That(File.Exists(snapshotPath), Is.True,
                    $"{folder} is trained but {snapshotPath} is missing: ./repro fixtures snapshot --model fixtures/models/{name}");
        var snapshot = QualitySnapshot.Read(snapshotPath);
        Assert.That((snapshot.Seqlen, snapshot.WindowsPerLanguage, snapshot.BosPolicy),
                    Is.EqualTo((record.Evaluation.Seqlen, record.Evaluation.WindowsPerLanguage, record.Evaluation.BosPolicy)),
                    "the snapshot was not measured the way the model's training evaluated it");
        Assert.That(snapshot.Languages.Select(l => (l.Language, l.Trained)),
                    Is.EqualTo(record.Evaluation.Languages.Select(l => (l.Language, l.Trained))));

        var corpora = CorpusDirectory.Open(Path.Combine(RepoPaths.Fixtures, "corpora"));
        using var loaded = LoadedModel.Open(folder, torch.CPU, torch.ScalarType.Float32);
        var measured = QualitySnapshot.Measure(loaded.Model, loaded.Tokenizer, corpora, record.Evaluation);
        foreach (var (expected, quality) in snapshot.Languages.Zip(measured))
        {
            Assert.That(quality.TextSha256, Is.EqualTo(expected.TextSha256), $"{expected.Language}: the validation windows are not the snapshot's");
            Assert.That(quality.BitsPerByte, Is.EqualTo(expected.BitsPerByte).Within(snapshot.BitsPerByteTolerance),
                        $"{expected.Language}: snapshot bits/byte not reproduced");
            Assert.That(quality.UnigramEntropyBits, Is.EqualTo(expected.UnigramEntropyBits).Within(1e-12), $"{expected.Language}: unigram entropy");
            if (snapshot.HeldToBar(quality))
                Assert.That(quality.EntropyRatio, Is.LessThanOrEqualTo(snapshot.MaxEntropyRatio),
                            $"{quality.Language}: {quality.BitsPerByte:F3} bits/byte vs unigram entropy {quality.UnigramEntropyBits:F3}");
        }
        Assert.That(snapshot.Exempt.Select(x => x.Language), Is.EqualTo(QualitySnapshot.ExemptionsOf(record, snapshot.MinTrainingTokensForBar).Select(x => x.Language)),
                    "exemptions must follow from the training record and the snapshot's threshold");
        var worstTrained = measured.Where(snapshot.HeldToBar).Max(l => l.EntropyRatio);
        foreach (var unseen in measured.Where(l => !l.Trained))
            Assert.That(unseen.EntropyRatio, Is.GreaterThan(worstTrained), $"{unseen.Language} was never trained on, yet it is not the worst language");
    }
}
