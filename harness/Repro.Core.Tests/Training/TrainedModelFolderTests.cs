using System.Globalization;
using Repro.Core.Models;
using Repro.Core.Tests.Corpora;
using Repro.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Tests.Training;

public sealed class TrainedModelFolderTests
{
    static Tensor SomeIds() => tensor(Enumerable.Range(0, 24).Select(i => (long)(i * 37 % 256)).Prepend(256L).ToArray(), dtype: ScalarType.Int64).unsqueeze(0);

    [TestCase(ScalarType.BFloat16)]
    [TestCase(ScalarType.Float16)]
    public void Saved_folder_loads_and_gives_the_in_memory_logits_within_rounding(ScalarType savedDType)
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var options = MicroTraining.Options(steps: 5);
        using var trainer = new Trainer(MicroTraining.Config(options), MicroTraining.Streams("aa", "bb"), 256, options);
        trainer.Run();
        TrainedModelFolder.Write(folder.Path, trainer.ConfigJson, trainer.Model, savedDType, trainer.Log);

        using var loaded = LoadedModel.Open(folder.Path, CPU, ScalarType.Float32);
        Assert.That(loaded.Config, Is.EqualTo(trainer.Config));
        Assert.That(loaded.Tokenizer.BosId, Is.EqualTo(256));
        var ids = SomeIds();
        var trained = trainer.Model.Logits(ids);
        var reloaded = loaded.Model.Logits(ids);
        var scale = trained.abs().max().item<float>();
        Assert.That((trained - reloaded).abs().max().item<float>(), Is.LessThan(0.05 * scale), "logits moved more than weight rounding explains");

        // Rounded in memory as the file stores them, the weights give the loaded logits exactly.
        using (no_grad())
            foreach (var p in trainer.Model.parameters()) p.copy_(p.to(savedDType).to(ScalarType.Float32));
        Assert.That((trainer.Model.Logits(ids) - reloaded).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-6f));
    }

    [Test]
    public void Log_csv_has_one_row_per_step_and_validation_only_where_measured()
    {
        var log = new[]
        {
            new TrainingLogEntry(1, 1e-3, 5.5, 2.25, 128, 0.5, null),
            new TrainingLogEntry(2, 2e-3, 5.25, 1.5, 256, 1.0, 4.75),
        };
        var lines = TrainedModelFolder.LogCsv(log).TrimEnd('\n').Split('\n');
        Assert.That(lines, Is.EqualTo(new[]
        {
            "step,learning_rate,train_loss,grad_norm,tokens,elapsed_s,validation_loss",
            "1,0.001,5.5,2.25,128,0.50,",
            "2,0.002,5.25,1.5,256,1.00,4.75",
        }));
    }

    [Test]
    public void Log_csv_uses_invariant_decimals_under_any_culture()
    {
        var before = CultureInfo.CurrentCulture;
        try
        {
            // The build runs in invariant-globalization mode, so make a culture with a decimal comma by hand.
            var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
            comma.NumberFormat.NumberDecimalSeparator = ",";
            CultureInfo.CurrentCulture = comma;
            Assert.That(TrainedModelFolder.LogCsv([new TrainingLogEntry(1, 0.5, 1.25, 1, 1, 0.5, 2.5)]), Does.Contain("1,0.5,1.25,1,1,0.50,2.5"));
        }
        finally
        {
            CultureInfo.CurrentCulture = before;
        }
    }
}
