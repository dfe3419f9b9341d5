using FsCheck;
using FsCheck.Fluent;
using Repro.Core.Checkpoints;
using Repro.Methods.Pipeline;
using static TorchSharp.torch;

namespace Repro.Methods.Tests.Pipeline;

public sealed class MaskFileTests
{
    [Test]
    public void Bits_are_packed_little_endian_in_row_major_order()
    {
        using var scope = NewDisposeScope();
        // Row-major elements 0 and 9 set, 10 elements → 2 bytes: 0b00000001, 0b00000010.
        var mask = zeros(2, 5, dtype: ScalarType.Bool);
        mask[0, 0] = tensor(true);
        mask[1, 4] = tensor(true);

        var packed = MaskFile.Pack(mask);

        Assert.That(packed.dtype, Is.EqualTo(ScalarType.Byte));
        Assert.That(packed.data<byte>().ToArray(), Is.EqualTo(new byte[] { 1, 2 }));
        Assert.That(MaskFile.Unpack(packed, [2, 5]).Equals(mask), Is.True);
    }

    static Arbitrary<(int Rows, int Cols, bool[] Bits)> Masks() =>
        (from rows in Gen.Choose(1, 9)
         from cols in Gen.Choose(1, 40)
         from bits in ArbMap.Default.GeneratorFor<bool>().ArrayOf(rows * cols)
         select (rows, cols, bits)).ToArbitrary();

    [FsCheck.NUnit.Property(MaxTest = 100)]
    public Property Pack_then_unpack_gives_the_mask_back() =>
        Prop.ForAll(Masks(), c =>
        {
            using var scope = NewDisposeScope();
            var mask = tensor(c.Bits).reshape(c.Rows, c.Cols);
            var packed = MaskFile.Pack(mask);
            return (packed.shape[0] == (c.Rows * c.Cols + 7) / 8).Label("packed length")
                .And(MaskFile.Unpack(packed, [c.Rows, c.Cols]).Equals(mask).Label("round trip"))
                .And(packed.Equals(MaskFile.PackWithTorch(mask.flatten())).Label("word packing equals the tensor-op packing"));
        });

    [Test]
    public void A_transposed_mask_is_packed_in_its_own_row_major_order()
    {
        using var scope = NewDisposeScope();
        var mask = tensor(new[] { true, false, false, false, true, true, false, true, false, true, true, false }).reshape(3, 4);
        var transposed = mask.t();                       // a view with strides, not contiguous
        Assert.That(MaskFile.Unpack(MaskFile.Pack(transposed), [4, 3]).Equals(transposed.contiguous()), Is.True);
    }

    [Test]
    public void A_mask_file_round_trips_through_disk_with_names_and_shapes()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        var masks = new (string, Tensor)[]
        {
            ("model.layers.0.self_attn.q_proj.weight", rand([32, 32], generator: generator) < 0.5),
            ("model.layers.0.mlp.down_proj.weight", rand([32, 47], generator: generator) < 0.3),   // 1504 bits: not a multiple of 8 per row
            ("odd", rand([3, 3], generator: generator) < 0.5),
        };
        var path = Path.Combine(folder.Path, "layer-00000.safetensors");

        MaskFile.Write(path, masks);
        var read = MaskFile.Read(path);

        Assert.That(read.Keys, Is.EquivalentTo(masks.Select(m => m.Item1)));
        foreach (var (name, mask) in masks)
        {
            Assert.That(read[name].dtype, Is.EqualTo(ScalarType.Bool));
            Assert.That(read[name].Equals(mask), Is.True, name);
        }
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Metadata[MaskFile.FormatKey], Is.EqualTo(MaskFile.FormatName));
        Assert.That(file.Describe("odd").DType, Is.EqualTo("U8"));
        Assert.That(file.Describe("odd").Shape, Is.EqualTo(new long[] { 2 }));
        foreach (var m in read.Values) m.Dispose();
    }

    [Test]
    public void A_safetensors_file_that_is_not_a_mask_file_is_refused()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var path = Path.Combine(folder.Path, "weights.safetensors");
        SafetensorsWriter.Write(path, [KeyValuePair.Create("w", zeros(4))]);

        var error = Assert.Throws<CheckpointFormatException>(() => MaskFile.Read(path));

        Assert.That(error!.Message, Does.Contain(MaskFile.FormatKey));
    }

    [Test]
    public void A_folder_without_masks_reads_as_no_masks() 
    {
        using var folder = new TempFolder();
        Assert.That(MaskFile.Read(folder.Path), Is.Empty);
    }
}
