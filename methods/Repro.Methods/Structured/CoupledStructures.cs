using Repro.Core;
using Repro.Core.Models;

namespace Repro.Methods.Structured;

/// <summary>
/// The coupled structures of one decoder layer (METHODS §8): <see cref="Units"/> attention units and
/// <see cref="Channels"/> MLP channels. An attention unit is one KV head k with the query heads it serves,
/// <c>k·n_rep … (k+1)·n_rep − 1</c> (HF <c>repeat_kv</c> order): rows <c>[k·d, (k+1)·d)</c> of k_proj and v_proj, the
/// rows of those query heads in q_proj and the same columns of o_proj. Without GQA (n_rep = 1) a unit is one head.
/// An MLP channel j is row j of gate_proj and up_proj and column j of down_proj.
/// </summary>
public sealed record LayerStructures(int Layer, LayerWidths Widths, int HeadDim)
{
    public int Units => Widths.NumKeyValueHeads;
    public int Channels => Widths.IntermediateSize;
    public int QueriesPerUnit => Widths.QueriesPerKeyValue;

    /// <summary>The structures of layer <paramref name="layer"/> of <paramref name="config"/>, at its current widths.</summary>
    public static LayerStructures Of(ModelConfig config, int layer) => new(layer, config.Widths(layer), config.HeadDim);

    /// <summary>
    /// Channels LLM-Pruner removes from a root group of <paramref name="channels"/> at <paramref name="ratio"/>:
    /// <c>channels − int(channels·(1 − ratio))</c>, the product in double and truncated as Python's <c>int</c> does.
    /// </summary>
    public static int PrunedChannels(int channels, double ratio) => channels - (int)Math.Truncate(channels * (1 - ratio));

    /// <summary>Attention units removed: the pruned channels of the head root (k_proj, or q_proj without GQA) over head_dim, rounded down.</summary>
    public int UnitsToRemove(double ratio) => PrunedChannels(Widths.NumAttentionHeads / QueriesPerUnit * HeadDim, ratio) / HeadDim;

    public int ChannelsToRemove(double ratio) => PrunedChannels(Channels, ratio);

    /// <summary>The widths after keeping <paramref name="units"/> attention units and <paramref name="channels"/> MLP channels.</summary>
    public LayerWidths After(int units, int channels) => new(units * QueriesPerUnit, units, channels);

    /// <summary>Rows of q_proj (and columns of o_proj) that belong to the kept units, in order.</summary>
    public long[] QueryRows(IReadOnlyList<int> keptUnits) =>
        [.. keptUnits.SelectMany(k => Enumerable.Range(k * QueriesPerUnit * HeadDim, QueriesPerUnit * HeadDim)).Select(i => (long)i)];

    /// <summary>Rows of k_proj and v_proj that belong to the kept units.</summary>
    public long[] KeyValueRows(IReadOnlyList<int> keptUnits) =>
        [.. keptUnits.SelectMany(k => Enumerable.Range(k * HeadDim, HeadDim)).Select(i => (long)i)];

    /// <summary>Query heads of the kept units (Cohere's per-head q_norm rows).</summary>
    public long[] QueryHeads(IReadOnlyList<int> keptUnits) =>
        [.. keptUnits.SelectMany(k => Enumerable.Range(k * QueriesPerUnit, QueriesPerUnit)).Select(i => (long)i)];
}

/// <summary>Which units and channels of one layer stay; indices ascending, so the kept structures keep their order.</summary>
public sealed record LayerPlan(LayerStructures Structures, IReadOnlyList<int> KeptUnits, IReadOnlyList<int> KeptChannels)
{
    public IReadOnlyList<int> RemovedUnits => [.. Enumerable.Range(0, Structures.Units).Except(KeptUnits)];
    public IReadOnlyList<int> RemovedChannels => [.. Enumerable.Range(0, Structures.Channels).Except(KeptChannels)];
    public LayerWidths Widths => Structures.After(KeptUnits.Count, KeptChannels.Count);

    /// <summary>Keeps every structure of the layer.</summary>
    public static LayerPlan KeepAll(LayerStructures s) => new(s, [.. Enumerable.Range(0, s.Units)], [.. Enumerable.Range(0, s.Channels)]);

    /// <summary>
    /// Removes the <paramref name="removeUnits"/> lowest-scored units and <paramref name="removeChannels"/> lowest-scored
    /// channels. Ties go to the lower index first (the reference's unstable argsort leaves them arbitrary).
    /// </summary>
    public static LayerPlan Lowest(LayerStructures s, IReadOnlyList<double> unitScores, IReadOnlyList<double> channelScores, int removeUnits, int removeChannels)
    {
        if (unitScores.Count != s.Units || channelScores.Count != s.Channels)
            throw new ArgumentException($"layer {s.Layer}: {unitScores.Count} unit and {channelScores.Count} channel scores for {s.Units} units and {s.Channels} channels");
        if (removeUnits >= s.Units)
            throw new InputException($"layer {s.Layer}: the ratio removes {removeUnits} of its {s.Units} attention units, leaving none; use a smaller sparsity");
        if (removeChannels >= s.Channels)
            throw new InputException($"layer {s.Layer}: the ratio removes {removeChannels} of its {s.Channels} MLP channels, leaving none; use a smaller sparsity");
        return new(s, Keep(unitScores, removeUnits), Keep(channelScores, removeChannels));
    }

    static int[] Keep(IReadOnlyList<double> scores, int remove)
    {
        var removed = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ThenBy(i => i).Take(remove).ToHashSet();
        return [.. Enumerable.Range(0, scores.Count).Where(i => !removed.Contains(i))];
    }
}
