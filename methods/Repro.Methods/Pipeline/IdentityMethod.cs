using System.Text.Json.Nodes;
using Repro.Core.Torch;
using TorchSharp;
using TorchSharp.Modules;

namespace Repro.Methods.Pipeline;

/// <summary>
/// Runs the whole pipeline (calibration passes, hooks, recompute, writing) and changes no weight: the output equals
/// the input. A baseline for <c>repro bench prune</c> (the pipeline's own cost) and an end-to-end check of the CLI.
/// </summary>
public sealed class IdentityMethod : ICompressionMethod
{
    public string Name => "identity";
    public bool NeedsCalibration => true;
    public bool MasksOnly => true;
    public JsonObject HyperParameters => new();

    public ISublayerCompressor Begin(string name, Linear sublayer) => new Compressor(name, sublayer);

    sealed class Compressor(string name, Linear sublayer) : ISublayerCompressor
    {
        public void Observe(torch.Tensor input) { }

        public SublayerResult Apply()
        {
            var zeros = TensorCounts.Zeros(sublayer.weight);
            return new SublayerResult(name, sublayer.weight.NumberOfElements, zeros, null, new Dictionary<string, double>());
        }

        public void Dispose() { }
    }
}
