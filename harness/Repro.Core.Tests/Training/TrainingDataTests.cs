using System.Text.Json;
using Repro.Core.Corpora;
using Repro.Core.Tests.Corpora;
using Repro.Core.Tokenizers;
using Repro.Core.Training;

namespace Repro.Core.Tests.Training;

public sealed class TrainingDataTests
{
    /// <summary>Writes DIR/{lang}/{split}.jsonl for each language with the synthetic documents.</summary>
    internal static void WriteCorpus(TempFolder folder, IEnumerable<string> languages, params string[] splits)
    {
        foreach (var language in languages)
            foreach (var split in splits)
            {
                var documents = MicroTraining.Documents(language, split == "train" ? 12 : 4);
                folder.File($"{language}/{split}.jsonl",
                            string.Concat(documents.Select(d => JsonSerializer.Serialize(new { text = d }) + "\n")));
            }
    }

    [Test]
    public void Swahili_is_left_out_of_training_by_default_but_validated()
    {
        using var folder = new TempFolder();
        WriteCorpus(folder, ["aa", "bb", "sw"], "train", "validation");
        var data = TrainingData.Load(folder.Path, new TrainingOptions { Steps = 1, BatchSize = 1, Seqlen = 8, PeakLearningRate = 1e-3, WarmupSteps = 0 }.ExcludedLanguages,
                                     new ByteTokenizer());
        Assert.That(data.TrainedLanguages, Is.EqualTo(new[] { "aa", "bb" }));
        Assert.That(data.ExcludedLanguages, Is.EqualTo(new[] { "sw" }));
        Assert.That(data.Validation.Keys, Is.EqualTo(new[] { "aa", "bb", "sw" }));
        Assert.That(data.Fingerprints.Select(f => $"{f.Language}/{f.Split}"),
                    Is.EqualTo(new[] { "aa/train", "aa/validation", "bb/train", "bb/validation", "sw/validation" }));
        var aaTrain = data.Fingerprints[0];
        Assert.That(aaTrain.ContentSha256, Is.EqualTo(Corpus.HashDocuments(MicroTraining.Documents("aa", 12))));
        Assert.That(aaTrain.File, Is.EqualTo("train.jsonl"));
        Assert.That(data.LanguagesValidatedOnTrainingText(), Is.Empty);
    }

    [Test]
    public void A_language_without_a_train_split_is_an_error_naming_it()
    {
        using var folder = new TempFolder();
        WriteCorpus(folder, ["aa"], "train", "validation");
        WriteCorpus(folder, ["bb"], "validation");
        Assert.That(() => TrainingData.Load(folder.Path, ["sw"], new ByteTokenizer()),
                    Throws.TypeOf<CorpusFormatException>().With.Message.Contains("bb").And.Message.Contains("'train'"));
        Assert.That(TrainingData.Load(folder.Path, ["bb"], new ByteTokenizer()).TrainedLanguages, Is.EqualTo(new[] { "aa" }), "excluding it helps");
    }

    [Test]
    public void Excluding_every_language_is_an_error()
    {
        using var folder = new TempFolder();
        WriteCorpus(folder, ["sw"], "train", "validation");
        Assert.That(() => TrainingData.Load(folder.Path, ["sw"], new ByteTokenizer()),
                    Throws.TypeOf<CorpusFormatException>().With.Message.Contains("nothing is left to train on"));
    }

    [Test]
    public void An_unsplit_corpus_is_flagged_as_validated_on_its_training_text()
    {
        using var folder = new TempFolder();
        folder.File("aa.jsonl", JsonSerializer.Serialize(new { text = MicroTraining.Documents("aa")[0] }) + "\n");
        var data = TrainingData.Load(folder.Path, [], new ByteTokenizer());
        Assert.That(data.LanguagesValidatedOnTrainingText(), Is.EqualTo(new[] { "aa" }));
    }
}
