using System.CommandLine;
using System.Globalization;
using Repro.Core;
using Repro.Core.Corpora;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Core.Torch;
using Repro.Fixtures.Training;
using Spectre.Console;

namespace Repro.Cli.Commands;

/// <summary>
/// <c>repro fixtures snapshot</c>: re-measures a trained fixture model on the validation split, as its training
/// evaluated it, and writes the figures to <c>expectations/snapshots/fixture-models/{preset}.json</c>, where the
/// tests read them.
/// </summary>
public static class SnapshotCommand
{
    /// <summary>bits/byte of a re-measurement may differ from the snapshot by batching and BLAS summation order only.</summary>
    public const double DefaultTolerance = 1e-4;

    /// <summary>Below this many training tokens a trained language is exempt from the bar (see <see cref="QualitySnapshot.MinTrainingTokensForBar"/>).</summary>
    public const long MinTrainingTokensForBar = 10_000;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "trained model folder (with training.json)", Required = true };
        var data = new Option<string>("--data") { Description = "corpus folder with each language's validation split", DefaultValueFactory = _ => "fixtures/corpora" };
        var output = new Option<string?>("--out") { Description = "snapshot file (default: expectations/snapshots/fixture-models/<preset>.json)" };
        var command = new Command("snapshot",
            "Re-measure a trained fixture model per language (bits/byte vs unigram byte entropy) and write the expectations snapshot the tests check.")
        {
            model, data, output,
        };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(model)!;
            TrainingRecord record;
            try
            {
                record = TrainedModelFolder.ReadRecord(folder);
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
            {
                throw new BadInputException(e.Message);
            }
            var corpora = CorpusDirectory.Open(parse.GetValue(data)!);
            var path = parse.GetValue(output) ?? QualitySnapshot.PathFor(record.Preset);

            TorchRuntime.EnsureLoaded();
            using var loaded = AnsiConsole.Status().Start($"Loading {Terminal.Text(folder)}", _ => LoadedModel.Open(folder, TorchSharp.torch.CPU, TorchSharp.torch.ScalarType.Float32));
            var languages = AnsiConsole.Status().Start("Measuring the validation windows of every language",
                _ => QualitySnapshot.Measure(loaded.Model, loaded.Tokenizer, corpora, record.Evaluation));
            var evaluation = record.Evaluation;
            var modelPath = RelativeToRoot(folder);
            var snapshot = new QualitySnapshot
            {
                Model = modelPath,
                Reproduce = string.Create(CultureInfo.InvariantCulture,
                    $"./repro eval ppl --model {modelPath} --data {RelativeToRoot(parse.GetValue(data)!)} --split {TrainingData.ValidationSplit} " +
                    $"--langs {string.Join(',', languages.Select(l => l.Language))} --seqlen {evaluation.Seqlen} --nsamples {evaluation.WindowsPerLanguage} --bos stream"),
                Split = TrainingData.ValidationSplit,
                Seqlen = evaluation.Seqlen,
                WindowsPerLanguage = evaluation.WindowsPerLanguage,
                BosPolicy = evaluation.BosPolicy,
                MaxEntropyRatio = record.MaxEntropyRatio,
                BitsPerByteTolerance = DefaultTolerance,
                MinTrainingTokensForBar = MinTrainingTokensForBar,
                Exempt = QualitySnapshot.ExemptionsOf(record, MinTrainingTokensForBar),
                Languages = languages,
                CodeVersion = CodeVersion.Current,
            };
            snapshot.Write(path);

            AnsiConsole.Write(QualityTable.Create(languages, snapshot.MaxEntropyRatio, snapshot.HeldToBar));
            foreach (var x in snapshot.Exempt)
                AnsiConsole.MarkupLine($"[yellow]{Terminal.Text(x.Language)}[/] is not held to the bar: {Terminal.Text(x.Reason)}");
            AnsiConsole.MarkupLine($"Snapshot written to [bold]{Terminal.Text(path)}[/]");
            if (snapshot.FailingLanguages.Count == 0) return ExitCodes.Ok;
            AnsiConsole.MarkupLine($"[red]quality bar missed[/] by {Terminal.Text(string.Join(", ", snapshot.FailingLanguages))}");
            return ExitCodes.Failure;
        });
        return command;
    }

    /// <summary>A path as a reader of the repository writes it: relative to the root when inside it, with '/'.</summary>
    static string RelativeToRoot(string path)
    {
        var full = Path.GetFullPath(path);
        string relative;
        try { relative = Path.GetRelativePath(RepoPaths.Root, full); }
        catch (DirectoryNotFoundException) { return full; }
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full : relative.Replace(Path.DirectorySeparatorChar, '/');
    }
}
