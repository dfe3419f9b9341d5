using Repro.Core.Checkpoints;
using Repro.Core.Tokenizers;
using TorchSharp;

namespace Repro.Core.Models;

/// <summary>A Hugging Face model folder loaded for evaluation: its config, weights and tokenizer.</summary>
public sealed class LoadedModel : IDisposable
{
    LoadedModel(string directory, ModelConfig config, CausalLM model, ITextTokenizer tokenizer) =>
        (Directory, Config, Model, Tokenizer) = (directory, config, model, tokenizer);

    public string Directory { get; }
    public ModelConfig Config { get; }
    public CausalLM Model { get; }
    public ITextTokenizer Tokenizer { get; }

    /// <summary>
    /// Reads the tokenizer and config first (cheap, and the likelier to be wrong), then checks every
    /// tensor the architecture needs is present before copying any weights.
    /// </summary>
    public static LoadedModel Open(string directory, torch.Device device, torch.ScalarType dtype)
    {
        var tokenizer = TokenizerLoader.FromFolder(directory);
        using var checkpoint = HfCheckpoint.Open(directory);
        var config = ModelConfig.FromJson(checkpoint.ConfigJson, checkpoint.ConfigPath);
        TokenizerLoader.RequireFits(tokenizer, config.VocabSize, directory);
        checkpoint.Require(config.ExpectedTensorNames(), config.ModelType);
        return new LoadedModel(directory, config, CausalLM.Load(config, checkpoint, device, dtype), tokenizer);
    }

    public void Dispose() => Model.Dispose();
}
