using Google.Protobuf;
using Prova.Core;
using Prova.Onnx.Protos;

namespace Prova.Onnx.Tests;

public sealed class TensorProtoTests
{
    public static TheoryData<Tensor> AllTypes() =>
    [
        Tensor.Create([2, 2], new[] { 1f, -0f, float.NaN, float.MaxValue }),
        Tensor.Create([3], new[] { 1.0, -2.5, double.Epsilon }),
        Tensor.Create([2], new sbyte[] { -128, 127 }),
        Tensor.Create([2], new byte[] { 0, 255 }),
        Tensor.Create([2], new short[] { short.MinValue, 5 }),
        Tensor.Create([2], new ushort[] { ushort.MaxValue, 5 }),
        Tensor.Create([2], new[] { int.MinValue, 7 }),
        Tensor.Create([2], new[] { uint.MaxValue, 7u }),
        Tensor.Create([2], new[] { long.MinValue, 7L }),
        Tensor.Create([2], new[] { ulong.MaxValue, 7ul }),
        Tensor.Create([3], new[] { true, false, true }),
        Tensor.Create([], new[] { 42f }),
        Tensor.Create([0, 3], Array.Empty<float>()),
    ];

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void RawDataRoundTrips(Tensor tensor)
    {
        var (name, back) = OnnxTensors.ParseTensorProto(OnnxTensors.WriteTensorProto("t", tensor));
        Assert.Equal("t", name);
        ModelAssert.Tensor(tensor, back, tensor.ToString());
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void TypedFieldsParseLikeRawData(Tensor tensor)
    {
        // ONNX writers may use the typed repeated fields instead of raw_data: small ints and bools
        // go in int32_data, uint32/uint64 in uint64_data.
        var proto = OnnxTensors.Header("t", tensor);
        // Switch on the element type: the CLR treats int[]/uint[] (and long[]/ulong[]) arrays as interchangeable in type tests.
        switch (tensor.Type)
        {
            case DataType.Float32: proto.FloatData.AddRange((float[])tensor.Data); break;
            case DataType.Float64: proto.DoubleData.AddRange((double[])tensor.Data); break;
            case DataType.Int64: proto.Int64Data.AddRange((long[])tensor.Data); break;
            case DataType.UInt64: proto.Uint64Data.AddRange((ulong[])tensor.Data); break;
            case DataType.UInt32: proto.Uint64Data.AddRange(((uint[])tensor.Data).Select(v => (ulong)v)); break;
            case DataType.Int32: proto.Int32Data.AddRange((int[])tensor.Data); break;
            case DataType.Int8: proto.Int32Data.AddRange(((sbyte[])tensor.Data).Select(v => (int)v)); break;
            case DataType.UInt8: proto.Int32Data.AddRange(((byte[])tensor.Data).Select(v => (int)v)); break;
            case DataType.Int16: proto.Int32Data.AddRange(((short[])tensor.Data).Select(v => (int)v)); break;
            case DataType.UInt16: proto.Int32Data.AddRange(((ushort[])tensor.Data).Select(v => (int)v)); break;
            case DataType.Bool: proto.Int32Data.AddRange(((bool[])tensor.Data).Select(v => v ? 1 : 0)); break;
        }
        var (_, back) = OnnxTensors.ParseTensorProto(proto.ToByteArray());
        ModelAssert.Tensor(tensor, back, tensor.ToString());
    }

    [Theory]
    [InlineData(10, "float16")]
    [InlineData(16, "bfloat16")]
    [InlineData(8, "string")]
    [InlineData(14, "complex64")]
    public void UnsupportedElementTypesNameTheTensor(int dataType, string typeName)
    {
        var proto = new TensorProto { Name = "half", DataType = dataType, RawData = ByteString.CopyFrom(new byte[8]) };
        proto.Dims.Add(2);
        var e = Assert.Throws<ModelException>(() => OnnxTensors.ParseTensorProto(proto.ToByteArray()));
        Assert.True(e.IsUnsupported);
        Assert.Contains("tensor 'half'", e.Message);
        Assert.Contains(typeName, e.Message);
    }

    [Fact]
    public void HugeDeclaredShapeFailsFastWithoutAllocating()
    {
        var proto = new TensorProto { Name = "big", DataType = (int)DataType.Float32, RawData = ByteString.CopyFrom(new byte[4]) };
        proto.Dims.Add(1_000_000_000);
        proto.Dims.Add(1_000_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelException>(() => OnnxTensors.ParseTensorProto(proto.ToByteArray()));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("big", e.Message);
        Assert.True(allocated < 1_000_000, $"allocated {allocated} bytes");
    }

    [Fact]
    public void ShapeWithinLimitsButDataTooShortIsRejectedBeforeAllocation()
    {
        var proto = new TensorProto { Name = "w", DataType = (int)DataType.Float64, RawData = ByteString.CopyFrom(new byte[16]) };
        proto.Dims.Add(100_000_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelException>(() => OnnxTensors.ParseTensorProto(proto.ToByteArray()));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000_000);
        Assert.Contains("raw_data holds 16 bytes", e.Message);

        var typed = new TensorProto { Name = "w", DataType = (int)DataType.Int64 };
        typed.Dims.Add(3);
        typed.Int64Data.Add(1);
        e = Assert.Throws<ModelException>(() => OnnxTensors.ParseTensorProto(typed.ToByteArray()));
        Assert.Contains("3 elements", e.Message);
        Assert.Contains("holds 1 values", e.Message);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(1L << 31)]
    public void InvalidDimensionsAreRejected(long dim)
    {
        var proto = new TensorProto { Name = "d", DataType = (int)DataType.Float32 };
        proto.Dims.Add(dim);
        var e = Assert.Throws<ModelException>(() => OnnxTensors.ParseTensorProto(proto.ToByteArray()));
        Assert.Contains($"invalid dimension {dim}", e.Message);
    }

    [Fact]
    public void ZeroSizedDimensionWithHugeSiblingsIsAnEmptyTensor()
    {
        var proto = new TensorProto { Name = "e", DataType = (int)DataType.Float32 };
        proto.Dims.Add(0);
        proto.Dims.Add(int.MaxValue);
        var (_, t) = OnnxTensors.ParseTensorProto(proto.ToByteArray());
        Assert.Equal(0, t.Length);
    }

    [Fact]
    public void ElementLimitIsEnforced()
    {
        var proto = OnnxTensors.ToProto("w", Tensor.Zeros(DataType.Float32, [10, 10]));
        var options = new LoadOptions { MaxTensorElements = 99 };
        var e = Assert.Throws<ModelException>(() => OnnxTensors.ParseTensorProto(proto.ToByteArray(), null, options));
        Assert.Contains("limit of 99 elements", e.Message);
    }

    [Fact]
    public void GarbageIsAModelException()
    {
        Assert.Throws<ModelException>(() => OnnxTensors.ParseTensorProto(new byte[] { 0x0a, 0xff, 0xff }));
    }
}
