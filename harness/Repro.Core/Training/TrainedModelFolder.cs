using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Repro.Core.Checkpoints;
using Repro.Core.Models;
using Repro.Core.Runs;
using Repro.Core.Tokenizers;
using TorchSharp;

namespace Repro.Core.Training;

/// <summary>
/// Saves a trained model as a Hugging Face folder that <see cref="LoadedModel.Open"/> (and transformers) read:
/// config.json, model.safetensors, the byte tokenizer's files, plus training.json and training-log.csv.
/// </summary>
public static class TrainedModelFolder
{
    public const string RecordFileName = "training.json";
    public const string LogFileName = "training-log.csv";

    /// <summary>Result-file conventions (camelCase, enums as names), without escaping '+' and non-ASCII: the file is read by people.</summary>
    public static JsonSerializerOptions RecordJson { get; } =
        new(ResultFiles.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Weights and config first (atomically, by <see cref="HfCheckpointWriter"/>), then tokenizer, log and (if given) record.</summary>
    public static void Write(string directory, JsonObject configJson, CausalLM model, torch.ScalarType savedDType,
                             IReadOnlyList<TrainingLogEntry> log, TrainingRecord? record = null)
    {
        WriteWeights(directory, configJson, model, savedDType);
        new ByteTokenizer().WriteHfFiles(directory, configJson["max_position_embeddings"]!.GetValue<int>());
        WriteText(Path.Combine(directory, LogFileName), LogCsv(log));
        if (record is not null) WriteRecord(directory, record);
    }

    /// <summary>The <c>training.json</c> of a trained folder; a missing or unreadable file is an error naming it.</summary>
    public static TrainingRecord ReadRecord(string directory)
    {
        var path = Path.Combine(directory, RecordFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found; the folder was not written by `repro fixtures train`", path);
        try
        {
            return JsonSerializer.Deserialize<TrainingRecord>(File.ReadAllText(path), RecordJson) ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a training record: {e.Message}", e);
        }
    }

    public static void WriteRecord(string directory, TrainingRecord record) =>
        WriteText(Path.Combine(directory, RecordFileName), JsonSerializer.Serialize(record, RecordJson) + "\n");

    public static void WriteWeights(string directory, JsonObject configJson, CausalLM model, torch.ScalarType savedDType)
    {
        using var noGrad = torch.no_grad();
        var tensors = model.named_parameters().Select(p => KeyValuePair.Create(p.name, (torch.Tensor)p.parameter)).ToList();
        var expected = model.Config.ExpectedTensorNames();
        if (!tensors.Select(t => t.Key).Order(StringComparer.Ordinal).SequenceEqual(expected.Order(StringComparer.Ordinal)))
            throw new InvalidOperationException(
                $"the model's parameter names ({string.Join(", ", tensors.Select(t => t.Key).Take(4))}, …) are not the checkpoint names config.json implies");
        HfCheckpointWriter.Write(directory, configJson, tensors, new CheckpointWriteOptions
        {
            DType = savedDType,
            Metadata = new Dictionary<string, string> { ["repro"] = "trained by repro fixtures train; see training.json" },
        });
    }

    /// <summary>One row per step; validation_loss is empty where it was not measured. Invariant culture, so '.' decimals everywhere.</summary>
    public static string LogCsv(IReadOnlyList<TrainingLogEntry> log)
    {
        var csv = new StringBuilder("step,learning_rate,train_loss,grad_norm,tokens,elapsed_s,validation_loss\n");
        foreach (var e in log)
            csv.Append(CultureInfo.InvariantCulture,
                $"{e.Step},{e.LearningRate:G6},{e.Loss:G7},{e.GradientNorm:G5},{e.Tokens},{e.ElapsedSeconds:F2},{(e.ValidationLoss is { } v ? v.ToString("G7", CultureInfo.InvariantCulture) : "")}\n");
        return csv.ToString();
    }

    static void WriteText(string path, string text)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }
}
