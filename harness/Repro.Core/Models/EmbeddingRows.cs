using Microsoft.Win32.SafeHandles;
using Repro.Core;
using Repro.Core.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Repro.Core.Models;

/// <summary>
/// The hidden states entering decoder layer 0: rows of the embedding table for a batch of token ids. Only the
/// rows the batch uses are read from a checkpoint file (an 8B model's table is 1–2 GB; 128 × 8192 calibration
/// tokens touch a fraction of it), so embedding the calibration batch never materialises the whole table.
/// </summary>
public static class EmbeddingRows
{
    /// <summary>Rows per staging copy: bounds the CPU buffer at this many bytes whatever the vocabulary.</summary>
    const long StagingBytes = 256L << 20;

    /// <summary>
    /// <c>table[ids]</c> for ids <c>[n, t]</c> → <c>[n, t, hidden]</c> in <paramref name="dtype"/> on <paramref name="device"/>,
    /// owned by the caller's dispose scope. Exactly what <c>TokenEmbedding.forward</c> computes from the loaded table:
    /// the stored values converted once to <paramref name="dtype"/>.
    /// </summary>
    public static Tensor Lookup(ITensorSource source, string tableName, long[,] ids, Device device, ScalarType dtype)
    {
        var info = source.Describe(tableName);
        if (info.Shape.Length != 2)
            throw new CheckpointFormatException(info.File, $"tensor '{tableName}' has shape [{string.Join(", ", info.Shape)}]; an embedding table is [vocab, hidden]");
        var (vocab, hidden) = (info.Shape[0], info.Shape[1]);
        var (rows, cols) = (ids.GetLength(0), ids.GetLength(1));

        var distinct = new SortedSet<long>();
        foreach (var id in ids)
        {
            if (id < 0 || id >= vocab)
                throw new InputException($"token id {id} is outside the embedding table of {vocab} rows in {info.File}; the ids come from another tokenizer");
            distinct.Add(id);
        }
        var used = distinct.ToArray();
        var position = new Dictionary<long, long>(used.Length);
        for (var i = 0; i < used.Length; i++) position[used[i]] = i;
        var gather = new long[ids.Length];
        var k = 0;
        foreach (var id in ids) gather[k++] = position[id];

        using var scope = NewDisposeScope();
        var table = File.Exists(info.File) ? ReadRows(info, used, hidden, device, dtype) : LoadRows(source, tableName, used, device, dtype);
        var index = tensor(gather, dtype: ScalarType.Int64, device: device);
        return table.index_select(0, index).view(rows, cols, hidden).MoveToOuterDisposeScope();
    }

    /// <summary>Reads the used rows straight out of the safetensors file, in id order, a bounded batch at a time.</summary>
    static Tensor ReadRows(TensorInfo info, long[] used, long hidden, Device device, ScalarType dtype)
    {
        var stored = SafetensorsDType.ToScalarType(info.DType);
        var rowBytes = hidden * SafetensorsDType.SizeOf(stored);
        var table = empty([used.Length, hidden], dtype, device);
        var perBatch = Math.Max(1, StagingBytes / rowBytes);
        using var handle = File.OpenHandle(info.File, FileMode.Open, FileAccess.Read, FileShare.Read);
        for (long start = 0; start < used.Length; start += perBatch)
        {
            var count = Math.Min(perBatch, used.Length - start);
            using var staging = empty([count, hidden], stored, CPU);
            var bytes = staging.bytes;
            for (var r = 0; r < count; r++)
                ReadExactly(handle, bytes.Slice((int)(r * rowBytes), (int)rowBytes), info.DataOffset + used[start + r] * rowBytes, info.File);
            using var slot = table.narrow(0, start, count);
            slot.copy_(staging);
        }
        return table;
    }

    static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string file)
    {
        while (buffer.Length > 0)
        {
            var read = RandomAccess.Read(handle, buffer, offset);
            if (read <= 0) throw new CheckpointFormatException(file, $"ended at byte {offset} inside the embedding table; the file is truncated: download it again");
            buffer = buffer[read..];
            offset += read;
        }
    }

    /// <summary>Sources without a file behind them (in-memory tensors in tests): load the table, keep the used rows.</summary>
    static Tensor LoadRows(ITensorSource source, string tableName, long[] used, Device device, ScalarType dtype)
    {
        using var whole = source.Load(tableName);
        using var index = tensor(used, dtype: ScalarType.Int64);
        using var rows = whole.index_select(0, index);
        return rows.to(dtype, device);
    }
}
