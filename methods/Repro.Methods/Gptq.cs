using Repro.Core;
using System.Globalization;
using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Repro.Methods;

/// <summary>
/// What <see cref="Gptq.Quantize"/> produced: the dequantized weight, the grids it used, and for each
/// (original) column the index of its grid in <see cref="Grids"/>. <see cref="LevelsUsed"/> is the
/// largest number of distinct values in one row of one grid's columns (at most 2^bits).
/// </summary>
public sealed record GptqResult(Tensor Weight, double Loss, int DampRetries, double PercDamp, long DeadInputs,
                                IReadOnlyList<QuantizationGrid> Grids, int[] GridOfColumn, long LevelsUsed)
{
    public SolveTimings Timings { get; init; } = SolveTimings.None;
}

/// <summary>
/// GPTQ (Frantar et al. 2023; reference <c>fasterquant</c>, METHODS.md §6): quantizes column by column
/// with the OBS error feedback of SparseGPT's sweep, the quantizer taking the place of the mask. The
/// weights stay dequantized (float) in the model.
/// </summary>
/// <remarks>
/// Order of the reference, kept: per-row grid from the whole W (used when there are no groups, and
/// computed before dead columns are zeroed) → dead inputs → static groups (from W after dead zeroing,
/// original column order) → act-order permutation (<c>argsort(diag H)</c> descending; Repro's sort is
/// stable, ties to the lower column) → dampening and U → sweep → un-permute.
/// Dynamic groups: at processed column c with <c>c mod g = 0</c> the grid comes from <c>W[:, c:c+g]</c>
/// of the whole matrix, which holds the lazy updates through the previous block but not the in-block
/// ones; it equals the current weights only when g is a multiple of the block size. Repro reads W
/// the same way.
/// </remarks>
public sealed class Gptq : ICompressionMethod
{
    public Gptq(int bits, int groupSize = 128, bool symmetric = false, bool actOrder = false, bool staticGroups = false,
                int blockSize = 128, double percDamp = 0.01)
    {
        Quantizer = new Quantizer(bits, symmetric);
        if (groupSize is 0 or < -1)
            throw new InputException($"group size must be -1 (one grid per row) or positive (128 in the papers), got {groupSize}");
        if (staticGroups && groupSize == -1)
            throw new InputException("static groups need a group size; with -1 there is one grid per row anyway");
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "blocksize must be positive (the reference uses 128)");
        if (!(percDamp > 0) || double.IsInfinity(percDamp))
            throw new ArgumentOutOfRangeException(nameof(percDamp), percDamp, "percdamp must be a positive number (the reference uses 0.01)");
        (GroupSize, ActOrder, StaticGroups, BlockSize, PercDamp) = (groupSize, actOrder, staticGroups, blockSize, percDamp);
    }

    public Quantizer Quantizer { get; }
    public int Bits => Quantizer.Bits;
    public bool Symmetric => Quantizer.Symmetric;
    public int GroupSize { get; }
    public bool ActOrder { get; }
    public bool StaticGroups { get; }
    public int BlockSize { get; }
    public double PercDamp { get; }

    public string Name => "gptq";
    public bool NeedsCalibration => true;

    public JsonObject HyperParameters => new()
    {
        ["bits"] = Bits,
        ["groupSize"] = GroupSize,
        ["symmetric"] = Symmetric,
        ["actOrder"] = ActOrder,
        ["staticGroups"] = StaticGroups,
        ["blockSize"] = BlockSize,
        ["percDamp"] = PercDamp,
        ["maxDampRetries"] = OptimalBrainSurgeon.MaxDampRetries,
    };

    public ISublayerCompressor Begin(string name, Linear sublayer)
    {
        RequireShape(name, sublayer.in_features);
        return new Compressor(this, name, sublayer);
    }

    void RequireShape(string sublayer, long columns)
    {
        if (GroupSize != -1 && columns % GroupSize != 0)
            throw new SublayerCompressionException(sublayer,
                $"group size {GroupSize} does not divide in_features {columns}; pick a divisor of {columns} or -1 (one grid per row)");
    }

    /// <summary>
    /// Quantizes <paramref name="weight"/> <c>[rows, columns]</c> with the Hessian <paramref name="hessian"/>
    /// (neither is modified), in the dtype it is given: float32 as the reference, float64 in tests.
    /// The result's grids are in the caller's dispose scope.
    /// </summary>
    /// <param name="consumeHessian">The caller hands <paramref name="hessian"/> over: it is worked on in place and freed
    /// once factored (an n×n copy fewer at the peak), and must not be used afterwards.</param>
    public GptqResult Quantize(Tensor weight, Tensor hessian, string sublayer, bool consumeHessian = false)
    {
        var (_, columns) = SparseGpt.CheckInputs(weight, hessian, sublayer);
        RequireShape(sublayer, columns);
        using var scope = NewDisposeScope();
        var w = weight.clone();
        var h = consumeHessian ? hessian : hessian.clone();
        var grids = new List<QuantizationGrid>();
        // Grids found inside the sweep's per-column scopes must outlive them. Only move those from other
        // scopes: in TorchSharp 0.107, moving a tensor to the scope it is already in later made its
        // finalizer throw ObjectDisposedException, which took down the test host.
        QuantizationGrid Keep(QuantizationGrid g)
        {
            foreach (var t in new[] { g.Scale, g.Zero })
                if (!scope.Contains(t)) t.MoveToOtherDisposeScope(scope);
            grids.Add(g);
            return g;
        }

        if (GroupSize == -1) Keep(Quantizer.FindParams(w));
        var dead = OptimalBrainSurgeon.ZeroDeadInputs(h, w);
        if (StaticGroups)
            for (long c = 0; c < columns; c += GroupSize)
                Keep(Quantizer.FindParams(w.narrow(1, c, GroupSize)));

        Tensor? perm = null;
        if (ActOrder)
        {
            perm = h.diagonal().sort(descending: true, stable: true).Indices;
            w = w.index_select(1, perm);
            var permuted = h.index_select(0, perm).index_select(1, perm);
            h.Dispose();   // ours (a copy, or handed over): the permuted copy replaces it
            h = permuted;
        }
        var order = perm?.data<long>().ToArray();

        var factor = OptimalBrainSurgeon.Factor(h, PercDamp, sublayer, consume: true);   // h is ours: a copy, or handed over
        var gridOfProcessed = new int[columns];
        var sweep = OptimalBrainSurgeon.Sweep(w, factor.Upper, BlockSize, new QuantizeRule(this, grids, Keep, order, gridOfProcessed));

        var gridOfColumn = new int[columns];
        for (var c = 0; c < columns; c++) gridOfColumn[order is null ? c : (int)order[c]] = gridOfProcessed[c];
        if (perm is not null) w = w.index_select(1, perm.argsort());

        var levels = LevelsUsed(w, grids, gridOfColumn);
        foreach (var g in grids)
        {
            g.Scale.MoveToOuterDisposeScope();
            g.Zero.MoveToOuterDisposeScope();
        }
        return new GptqResult(w.MoveToOuterDisposeScope(), sweep.Loss, factor.DampRetries, factor.PercDamp, dead.sum().item<long>(),
                              grids, gridOfColumn, levels) { Timings = sweep.Timings(factor) };
    }

    /// <summary>
    /// The most distinct values in one row of one grid's columns. The values are dequantized codes, so each grid's
    /// codes are recovered (<c>round(q/scale) + zero</c>); when they all lie in [0, maxq] and give back every value
    /// exactly, distinct values are distinct codes, counted by marking each row's codes in a [rows, maxq + 1]
    /// table. Otherwise (a value off its grid) the row's values are sorted and counted. A sort per group was most
    /// of GPTQ's time outside its solves.
    /// </summary>
    internal static long LevelsUsed(Tensor q, IReadOnlyList<QuantizationGrid> grids, int[] gridOfColumn)
    {
        using var scope = NewDisposeScope();
        long most = 0;
        for (var g = 0; g < grids.Count; g++)
        {
            var columns = Enumerable.Range(0, gridOfColumn.Length).Where(c => gridOfColumn[c] == g).Select(c => (long)c).ToArray();
            if (columns.Length == 0) continue;
            using var groupScope = NewDisposeScope();
            var values = q.index_select(1, tensor(columns, device: q.device));
            var grid = grids[g];
            var codes = (values / grid.Scale).round().add_(grid.Zero);
            var onGrid = codes.min().to(ScalarType.Float64).item<double>() >= 0 && codes.max().to(ScalarType.Float64).item<double>() <= grid.MaxQ
                         && (grid.Scale * (codes - grid.Zero)).Equals(values);
            Tensor distinct;
            if (onGrid)
            {
                var index = codes.to(ScalarType.Int64);
                var used = zeros(values.shape[0], grid.MaxQ + 1, ScalarType.Bool, q.device).scatter_(1, index, ones_like(index, ScalarType.Bool));
                distinct = used.sum(1);
            }
            else
            {
                var sorted = values.sort(1).Values;
                distinct = 1 + (sorted.narrow(1, 1, columns.Length - 1) != sorted.narrow(1, 0, columns.Length - 1)).sum(1);
            }
            most = Math.Max(most, distinct.max().item<long>());
        }
        return most;
    }

    /// <summary>Each column onto its grid: whole-row, static group, or dynamic group found when the group starts.</summary>
    sealed class QuantizeRule(Gptq method, List<QuantizationGrid> grids, Func<QuantizationGrid, QuantizationGrid> keep,
                              long[]? order, int[] gridOfProcessed) : OptimalBrainSurgeon.IColumnRule
    {
        int current;

        Tensor q1 = null!;

        public void BeginBlock(Tensor weight, Tensor block, Tensor upper, long i1) => q1 = zeros_like(block);

        public Tensor Residual(Tensor weight, Tensor block, Tensor upper, long i1, long i)
        {
            var c = i1 + i;
            var g = method.GroupSize;
            if (g != -1 && !method.StaticGroups && c % g == 0)
            {
                keep(method.Quantizer.FindParams(weight.narrow(1, c, g)));
                current = grids.Count - 1;
            }
            else if (g != -1 && method.StaticGroups)
                current = (int)((order is null ? c : order[c]) / g);
            gridOfProcessed[c] = current;
            var w = block.select(1, i);
            var q = q1.select(1, i);
            q.copy_(grids[current].Quantize(w.unsqueeze(1)).flatten());
            return w - q;
        }

        public Tensor EndBlock(Tensor block) => q1;
    }

    sealed class Compressor(Gptq method, string name, Linear sublayer) : HessianCompressor(name, sublayer)
    {
        GptqResult? result;

        protected override (Tensor Weight, Tensor? Mask, SolveTimings Timings) Solve(Tensor weight, Tensor hessian)
        {
            result = method.Quantize(weight, hessian, Name, consumeHessian: true);
            return (result.Weight, null, result.Timings);
        }

        protected override Dictionary<string, double> Diagnostics(long elements, long zeros) => new()
        {
            ["loss"] = result!.Loss,
            ["dampRetries"] = result.DampRetries,
            ["percDampUsed"] = result.PercDamp,
            ["bits"] = method.Bits,
            ["groupSize"] = method.GroupSize,
            ["levelsUsed"] = result.LevelsUsed,
            ["grids"] = result.Grids.Count,
            ["deadInputs"] = result.DeadInputs,
        };
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"gptq(bits={Bits}, group={GroupSize}, sym={Symmetric}, actorder={ActOrder}, static={StaticGroups}, block={BlockSize}, percdamp={PercDamp})");
}
