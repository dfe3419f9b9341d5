using System.Buffers.Binary;
using System.Text.Json;
using Repro.Core.Checkpoints;
using TorchSharp;

namespace Repro.Core.Tests.Checkpoints;

public sealed class SafetensorsFileTests
{
    static readonly torch.ScalarType[] AllTypes =
    [
        torch.ScalarType.Float32, torch.ScalarType.Float16, torch.ScalarType.BFloat16, torch.ScalarType.Float64,
        torch.ScalarType.Int64, torch.ScalarType.Int32, torch.ScalarType.Int16, torch.ScalarType.Int8,
        torch.ScalarType.Byte, torch.ScalarType.Bool,
    ];

    TempDirectory dir = null!;
    DisposeScope scope = null!;

    [SetUp]
    public void SetUp()
    {
        dir = new TempDirectory();
        scope = torch.NewDisposeScope();
    }

    [TearDown]
    public void TearDown()
    {
        scope.Dispose();
        dir.Dispose();
    }

    [TestCaseSource(nameof(AllTypes))]
    public void Every_dtype_round_trips_bit_exactly(torch.ScalarType type)
    {
        var original = SampleTensors.Of(type);
        var scalar = SampleTensors.Of(type, seed: 2).reshape(-1)[0];   // a 0-d tensor: shape []
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["w"] = original, ["s"] = scalar });

        using var file = SafetensorsFile.Open(path);
        var info = file.Describe("w");
        Assert.That(info.DType, Is.EqualTo(SafetensorsDType.NameOf(type)));
        Assert.That(info.Shape, Is.EqualTo(original.shape));
        Assert.That(file.Describe("s").Shape, Is.Empty);

        var loaded = file.Load("w");
        Assert.That(loaded.dtype, Is.EqualTo(type));
        Assert.That(loaded.device_type, Is.EqualTo(DeviceType.CPU));
        Assert.That(SampleTensors.BytesOf(loaded), Is.EqualTo(SampleTensors.BytesOf(original)));
        Assert.That(file.RawBytes("w").ToArray(), Is.EqualTo(SampleTensors.BytesOf(original)));
        Assert.That(SampleTensors.BytesOf(file.Load("s")), Is.EqualTo(SampleTensors.BytesOf(scalar)));
    }

    /// <summary>A Hugging Face cache snapshot links each file to a blob: the link is followed, and a dangling one is named.</summary>
    [Test]
    public void A_symbolic_link_to_a_blob_reads_as_the_blob_and_a_dangling_link_is_named()
    {
        var blobs = Directory.CreateDirectory(dir.File("blobs")).FullName;
        var snapshot = Directory.CreateDirectory(dir.File("snapshot")).FullName;
        var blob = Path.Combine(blobs, "3f2a");
        var original = SampleTensors.Of(torch.ScalarType.Float32);
        SafetensorsWriter.Write(blob, new Dictionary<string, torch.Tensor> { ["w"] = original });
        var link = Path.Combine(snapshot, "model.safetensors");
        File.CreateSymbolicLink(link, Path.Combine("..", "blobs", "3f2a"));

        using (var file = SafetensorsFile.Open(link))
            Assert.That(SampleTensors.BytesOf(file.Load("w")), Is.EqualTo(SampleTensors.BytesOf(original)));

        var dangling = Path.Combine(snapshot, "gone.safetensors");
        File.CreateSymbolicLink(dangling, Path.Combine("..", "blobs", "missing"));
        Assert.That(() => SafetensorsFile.Open(dangling),
                    Throws.InstanceOf<CheckpointFormatException>().With.Message.Contain("gone.safetensors"));
    }

    [Test]
    public void Empty_tensors_round_trip_and_need_no_bytes()
    {
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["e"] = torch.zeros(0, 4), ["x"] = torch.ones(2) });
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Describe("e").ByteCount, Is.Zero);
        Assert.That(file.Load("e").shape, Is.EqualTo(new long[] { 0, 4 }));
        Assert.That(file.Load("x").data<float>().ToArray(), Is.EqualTo(new[] { 1f, 1f }));
    }

    [Test]
    public void Bf16_upcasts_to_f32_exactly_as_the_top_16_bits()
    {
        var bf16 = SampleTensors.Of(torch.ScalarType.BFloat16);
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, [KeyValuePair.Create("w", bf16)]);

        using var file = SafetensorsFile.Open(path);
        var f32 = file.Load("w", torch.ScalarType.Float32, torch.CPU);
        Assert.That(f32.dtype, Is.EqualTo(torch.ScalarType.Float32));
        var stored = file.RawBytes("w").ToArray();
        var widened = f32.data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();
        var expected = Enumerable.Range(0, stored.Length / 2)
                                 .Select(i => (uint)BinaryPrimitives.ReadUInt16LittleEndian(stored.AsSpan(2 * i)) << 16).ToArray();
        Assert.That(widened, Is.EqualTo(expected));
    }

    [Test]
    public void F16_upcasts_to_f32_exactly_as_dotnet_Half_does()
    {
        var f16 = SampleTensors.Of(torch.ScalarType.Float16);
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, [KeyValuePair.Create("w", f16)]);

        using var file = SafetensorsFile.Open(path);
        var stored = file.RawBytes("w").ToArray();
        var expected = Enumerable.Range(0, stored.Length / 2)
            .Select(i => BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(stored.AsSpan(2 * i)))))
            .ToArray();
        var widened = file.Load("w", torch.ScalarType.Float32).data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();
        Assert.That(widened, Is.EqualTo(expected));
    }

    [Test]
    public void Load_converts_to_an_explicit_dtype_on_the_cpu()
    {
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, [KeyValuePair.Create("w", torch.arange(6, dtype: torch.ScalarType.Int32).reshape(2, 3))]);
        using var file = SafetensorsFile.Open(path);
        var loaded = file.Load("w", torch.ScalarType.Float64, torch.CPU);
        Assert.That(loaded.dtype, Is.EqualTo(torch.ScalarType.Float64));
        Assert.That(loaded.device_type, Is.EqualTo(DeviceType.CPU));
        Assert.That(loaded.data<double>().ToArray(), Is.EqualTo(new double[] { 0, 1, 2, 3, 4, 5 }));
    }

    [Test]
    public void Loaded_tensors_own_their_memory_after_the_file_is_closed()
    {
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, [KeyValuePair.Create("w", torch.arange(4, dtype: torch.ScalarType.Float32))]);
        torch.Tensor loaded;
        using (var file = SafetensorsFile.Open(path)) loaded = file.Load("w");
        File.Delete(path);
        Assert.That(loaded.data<float>().ToArray(), Is.EqualTo(new[] { 0f, 1f, 2f, 3f }));
    }

    [Test]
    public void Entries_carry_absolute_offsets_in_data_order_and_metadata_is_exposed()
    {
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path,
            new Dictionary<string, torch.Tensor> { ["b"] = torch.zeros(3, dtype: torch.ScalarType.Int8), ["a"] = torch.ones(2, dtype: torch.ScalarType.Float64) },
            new Dictionary<string, string> { ["source"] = "unit test" });
        using var file = SafetensorsFile.Open(path);

        Assert.That(file.Metadata, Is.EqualTo(new Dictionary<string, string> { ["format"] = "pt", ["source"] = "unit test" }));
        Assert.That(file.Entries.Select(e => e.Name), Is.EqualTo(new[] { "a", "b" }));   // F64 first: widest elements lead
        Assert.That(file.Entries[0].DataOffset, Is.EqualTo(file.DataStart));
        Assert.That(file.Entries[1].DataOffset, Is.EqualTo(file.DataStart + 16));
        var bytes = File.ReadAllBytes(path);
        Assert.That(bytes.AsSpan((int)file.Entries[0].DataOffset, 16).ToArray(), Is.EqualTo(BitConverter.GetBytes(1.0).Concat(BitConverter.GetBytes(1.0))));
        Assert.That(file.FileBytes, Is.EqualTo(bytes.Length));
    }

    [Test]
    public void Gaps_between_tensors_are_allowed()
    {
        var path = CraftedSafetensors.Write(dir, "gap.safetensors", CraftedSafetensors.Bytes(
            """{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}""", 8));
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Load("b").data<byte>().ToArray(), Is.EqualTo(new byte[] { 6, 7 }));
    }

    [Test]
    public void Asking_for_an_absent_tensor_names_the_file_and_the_tensor()
    {
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, [KeyValuePair.Create("w", torch.ones(1))]);
        using var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<CheckpointFormatException>(() => file.Load("nope"))!;
        Assert.That(e.Message, Does.Contain("t.safetensors").And.Contain("has no tensor 'nope'"));
    }

    [Test]
    public void A_closed_file_refuses_to_load()
    {
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, [KeyValuePair.Create("w", torch.ones(1))]);
        var file = SafetensorsFile.Open(path);
        file.Dispose();
        file.Dispose();   // twice is harmless
        Assert.Throws<ObjectDisposedException>(() => file.Load("w"));
    }

    // ---- Bad files: each has its own message that names the file and says what is wrong. ----

    static IEnumerable<TestCaseData> BadFiles()
    {
        static TestCaseData Case(string name, byte[] bytes, string phrase) => new TestCaseData(bytes, phrase).SetArgDisplayNames(name);
        const string okA = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

        yield return Case("shorter than the length field", [1, 2, 3], "too short for the 8-byte header length");
        yield return Case("empty file", [], "file is 0 bytes");
        yield return Case("header length beyond the file", CraftedSafetensors.Bytes("{}", 0, declaredLength: 1000), "declares a header of 1000 bytes");
        yield return Case("absurd header length", CraftedSafetensors.Bytes("{}", 0, declaredLength: ulong.MaxValue), $"declares a header of {ulong.MaxValue} bytes");
        yield return Case("header not JSON", CraftedSafetensors.Bytes("{not json", 0), "header is not valid JSON");
        yield return Case("empty header", CraftedSafetensors.Bytes("", 0), "header is not valid JSON");
        var latin1 = CraftedSafetensors.Bytes("{\"x\":1}", 0);
        latin1[10] = 0xE9;   // a lone Latin-1 byte inside the key: not UTF-8
        yield return Case("header not UTF-8", latin1, "header is not valid UTF-8");
        yield return Case("header an array", CraftedSafetensors.Bytes("[1,2]", 0), "not an object of tensors");
        yield return Case("offsets out of range", CraftedSafetensors.Bytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 8),
                          "offsets out of range");
        yield return Case("begin after end", CraftedSafetensors.Bytes("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}""", 8),
                          "with begin > end");
        yield return Case("overlapping tensors", CraftedSafetensors.Bytes(
                              """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12),
                          "overlapping data_offsets");
        yield return Case("unknown dtype", CraftedSafetensors.Bytes("""{"a":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}}""", 8),
                          "unknown dtype 'Q4_K'");
        yield return Case("shape disagrees with byte count", CraftedSafetensors.Bytes("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8),
                          "shape and byte count disagree");
        yield return Case("shape too large", CraftedSafetensors.Bytes("""{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", 8),
                          "too large to address");
        yield return Case("negative offset", CraftedSafetensors.Bytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}""", 8),
                          "must be a non-negative integer");
        yield return Case("three offsets", CraftedSafetensors.Bytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}""", 8),
                          "needs exactly two");
        yield return Case("missing shape", CraftedSafetensors.Bytes("""{"a":{"dtype":"F32","data_offsets":[0,8]}}""", 8), "lacks shape");
        yield return Case("unexpected field", CraftedSafetensors.Bytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}""", 8),
                          "unexpected field 'x'");
        yield return Case("tensor listed twice", CraftedSafetensors.Bytes("{" + okA + "," + okA + "}", 8), "lists tensor 'a' twice");
        yield return Case("metadata not strings", CraftedSafetensors.Bytes("""{"__metadata__":{"n":1},""" + okA + "}", 8), "holds only strings");
    }

    [TestCaseSource(nameof(BadFiles))]
    public void A_bad_file_is_refused_with_its_own_message(byte[] bytes, string phrase)
    {
        var path = CraftedSafetensors.Write(dir, "bad.safetensors", bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose())!;
        Assert.That(e.Path, Is.EqualTo(path));
        Assert.That(e.Message, Does.StartWith(path).And.Contain(phrase));
    }

    [Test]
    public void A_file_cut_short_is_reported_as_truncated()
    {
        var path = dir.File("cut.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["a"] = torch.ones(4), ["b"] = torch.ones(4) });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^5]);

        var e = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose())!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain("file is truncated").And.Contain("32 bytes of tensor data but only 27"));
    }

    [Test]
    public void A_missing_file_is_named()
    {
        var path = dir.File("absent.safetensors");
        var e = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain("file not found"));
    }

    [Test]
    public void Written_header_is_padded_to_8_bytes_and_lists_metadata_then_sorted_names()
    {
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, torch.Tensor>
        {
            ["z.weight"] = torch.ones(1), ["a.weight"] = torch.ones(3, dtype: torch.ScalarType.Int8), ["m.bias"] = torch.ones(2, dtype: torch.ScalarType.Float16),
        });
        var bytes = File.ReadAllBytes(path);
        var headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That((8 + headerLength) % 8, Is.Zero);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        Assert.That(header.RootElement.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "__metadata__", "a.weight", "m.bias", "z.weight" }));
        Assert.That(header.RootElement.GetProperty("__metadata__").GetProperty("format").GetString(), Is.EqualTo("pt"));

        using var file = SafetensorsFile.Open(path);
        foreach (var e in file.Entries)
            Assert.That(e.DataOffset % SafetensorsDType.SizeOf(SafetensorsDType.ToScalarType(e.DType)), Is.Zero, $"{e.Name} is not aligned");
    }

    [Test]
    public void Non_contiguous_and_grad_tracking_tensors_are_written_by_value()
    {
        var path = dir.File("t.safetensors");
        var matrix = torch.arange(6, dtype: torch.ScalarType.Float32).reshape(2, 3);
        var parameter = torch.ones(2, requires_grad: true);
        SafetensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["t"] = matrix.t(), ["p"] = parameter });
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Load("t").data<float>().ToArray(), Is.EqualTo(new[] { 0f, 3f, 1f, 4f, 2f, 5f }));
        Assert.That(file.Load("p").requires_grad, Is.False);
    }

    [Test]
    public void A_failure_while_writing_leaves_the_previous_file_intact_and_no_temporary()
    {
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, [KeyValuePair.Create("w", torch.ones(3))]);
        var before = File.ReadAllBytes(path);

        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, ThrowsAfterOne()));
        // A meta tensor has a shape but no data: it fails after the temporary file has been opened and partly written.
        Assert.That(() => SafetensorsWriter.Write(path, new Dictionary<string, torch.Tensor>
        {
            ["a"] = torch.ones(3), ["b"] = torch.empty(new long[] { 4 }, device: torch.META),
        }), Throws.Exception.With.Message.Contains("meta tensor"));

        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(dir.LeftoverTemporaries(), Is.Empty);
    }

    static IEnumerable<KeyValuePair<string, torch.Tensor>> ThrowsAfterOne()
    {
        yield return KeyValuePair.Create("a", torch.zeros(2));
        throw new InvalidOperationException("the model failed to produce its next tensor");
    }
}
