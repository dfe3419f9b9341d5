using Repro.Core;

namespace Repro.Methods;

/// <summary>
/// A sublayer that a method cannot compress as asked (bad shape for the settings, NaN/Inf weights or
/// inputs, a Hessian that stays singular): the message names the sublayer, the problem and what to try.
/// These are faults of the model, the calibration data or the settings, so they are input errors.
/// </summary>
public sealed class SublayerCompressionException(string sublayer, string problem)
    : InputException($"{sublayer}: {problem}")
{
    public string Sublayer => sublayer;
}
