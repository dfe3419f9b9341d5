using System.Text.Json.Nodes;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Core.Tests.Corpora;
using Repro.Core.Training;
using TorchSharp;

namespace Repro.Core.Tests.Training;

public sealed class TrainingJobTests
{
    [Test]
    public void Trains_evaluates_and_saves_a_loadable_folder_with_its_record_and_log()
    {
        using var data = new TempFolder();
        using var output = new TempFolder();
        TrainingDataTests.WriteCorpus(data, ["aa", "bb", "sw"], "train", "validation");
        var options = MicroTraining.Options(steps: 6, seed: 3) with { ValidationEvery = 3 };
        var phases = new List<string>();
        var progress = new List<TrainingProgress>();
        var record = TrainingJob.Run(MicroTraining.Preset(options), data.Path, output.Path, torch.ScalarType.BFloat16,
                                     progress: new ListProgress(progress), onPhase: phases.Add);

        Assert.That(phases, Is.EqualTo(new[] { "loading", "training", "saving", "evaluating" }));
        Assert.That(progress.Select(p => p.Step), Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(progress.Select(p => p.ValidationLoss is not null), Is.EqualTo(new[] { false, false, true, true, true, true }));

        Assert.That(Directory.GetFiles(output.Path).Select(Path.GetFileName).Order(),
                    Is.EqualTo(new[] { "config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json",
                                       "tokenizer_config.json", "training-log.csv", "training.json" }));
        using (var loaded = LoadedModel.Open(output.Path, torch.CPU, torch.ScalarType.Float32))
        {
            Assert.That(loaded.Config.NumHiddenLayers, Is.EqualTo(MicroTraining.Shape.Layers));
            // The recorded table is the saved folder's, not the float32 model's before rounding.
            var probe = ValidationProbe.Create([Repro.Core.Corpora.CorpusDirectory.Open(data.Path).Load("sw", "validation")],
                                               loaded.Tokenizer, options.Seqlen, options.FinalEvaluationWindows);
            Assert.That(probe.Evaluate(loaded.Model)[0].BitsPerByte, Is.EqualTo(record.Evaluation.Languages.Single(l => l.Language == "sw").BitsPerByte));
        }

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(output.Path, "training.json")))!;
        Assert.That(json["format"]!.GetValue<string>(), Is.EqualTo(TrainingRecord.CurrentFormat));
        Assert.That(json["codeVersion"]!.GetValue<string>(), Is.EqualTo(CodeVersion.Current));
        Assert.That(json["seed"]!.GetValue<long>(), Is.EqualTo(3));
        Assert.That(json["steps"]!.GetValue<int>(), Is.EqualTo(6));
        Assert.That(json["options"]!["peakLearningRate"]!.GetValue<double>(), Is.EqualTo(options.PeakLearningRate));
        Assert.That(json["trainedLanguages"]!.AsArray().Select(n => n!.GetValue<string>()), Is.EqualTo(new[] { "aa", "bb" }));
        Assert.That(json["excludedLanguages"]!.AsArray().Select(n => n!.GetValue<string>()), Is.EqualTo(new[] { "sw" }));
        Assert.That(json["corpora"]!.AsArray().Count, Is.EqualTo(5), "train + validation of aa and bb, validation of sw");
        Assert.That(json["torchThreads"]!.GetValue<int>(), Is.EqualTo(torch.get_num_threads()));
        Assert.That(json["wallTimeSeconds"]!.GetValue<double>(), Is.GreaterThan(0));

        Assert.That(record.LanguageShares.Select(s => s.Language), Is.EqualTo(new[] { "aa", "bb" }));
        Assert.That(record.LanguageShares.Sum(s => s.Share), Is.EqualTo(1).Within(1e-12));
        Assert.That(record.LanguageShares.Sum(s => s.Epochs * s.TrainingTokens), Is.EqualTo((double)record.TokensSeen).Within(1e-6));

        var languages = record.Evaluation.Languages;
        Assert.That(languages.Select(l => (l.Language, l.Trained)), Is.EqualTo(new[] { ("aa", true), ("bb", true), ("sw", false) }));
        foreach (var l in languages)
        {
            Assert.That(l.BitsPerByte, Is.GreaterThan(0).And.LessThan(12), l.Language);
            Assert.That(l.EntropyRatio, Is.EqualTo(l.BitsPerByte / l.UnigramEntropyBits), l.Language);
        }
        Assert.That(json["evaluation"]!["languages"]![0]!["entropyRatio"]!.GetValue<double>(), Is.EqualTo(languages[0].EntropyRatio));
        Assert.That(record.MaxEntropyRatio, Is.EqualTo(TrainingJob.DefaultMaxEntropyRatio));
        Assert.That(record.FailingLanguages, Is.EqualTo(new[] { "aa", "bb" }), "6 steps teach a model nothing: the bar must say so");

        var log = File.ReadAllLines(Path.Combine(output.Path, "training-log.csv"));
        Assert.That(log, Has.Length.EqualTo(7));
        Assert.That(log[3].Split(',')[^1], Is.Not.Empty, "validation loss at step 3");
        Assert.That(log[4].Split(',')[^1], Is.Empty);
    }

    sealed class ListProgress(List<TrainingProgress> list) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => list.Add(value);
    }
}
