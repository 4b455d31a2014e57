using Google.Protobuf;
using Prova.Core;
using Prova.Onnx.Protos;

namespace Prova.Onnx.Tests;

public sealed class ExternalDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("prova-onnx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static OnnxModel Model()
    {
        var b = new ModelBuilder();
        var x = b.Input("x", DataType.Float32, 1, 64);
        var w = b.Initializer("big", Tensor.Create([64, 64], Enumerable.Range(0, 4096).Select(i => i * 0.25f).ToArray()));
        var mask = b.Initializer("mask", Tensor.Create([64], Enumerable.Range(0, 64).Select(i => i % 3 == 0).ToArray()));
        var s = b.Initializer("small", Tensor.Create([2], new[] { 1L, 2L }));
        var y = b.Node("MatMul", [x, w]);
        b.Node("Identity", [mask]);
        b.Node("Identity", [s]);
        b.Output(y, "y");
        return b.Build();
    }

    /// <summary>Saves with external data and returns the model proto for tampering.</summary>
    private (string Path, ModelProto Proto) SaveExternal()
    {
        string path = Path.Combine(_dir, "model.onnx");
        OnnxWriter.Save(Model(), path, externalDataThreshold: 32);
        return (path, ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)));
    }

    private static TensorProto Big(ModelProto proto) => proto.Graph.Initializer.Single(t => t.Name == "big");

    private static void SetLocation(TensorProto tensor, string location)
        => tensor.ExternalData.Single(e => e.Key == "location").Value = location;

    private ModelException FailsAfter(ModelProto proto)
    {
        string path = Path.Combine(_dir, "tampered.onnx");
        File.WriteAllBytes(path, proto.ToByteArray());
        return Assert.Throws<ModelException>(() => OnnxLoader.Load(path));
    }

    [Fact]
    public void LargeInitializersGoToTheDataFileAndLoadBack()
    {
        var (path, proto) = SaveExternal();
        Assert.True(File.Exists(path + ".data"));
        Assert.Equal(4096 * 4 + 64, new FileInfo(path + ".data").Length);
        Assert.Equal(TensorProto.Types.DataLocation.External, Big(proto).DataLocation);
        Assert.False(Big(proto).HasRawData);
        var small = proto.Graph.Initializer.Single(t => t.Name == "small");
        Assert.False(small.HasDataLocation);
        ModelAssert.Equal(Model(), OnnxLoader.Load(path));
    }

    [Fact]
    public void BytesWithoutADirectoryCannotResolveExternalData()
    {
        var (path, _) = SaveExternal();
        var e = Assert.Throws<ModelException>(() => OnnxLoader.Load(File.ReadAllBytes(path)));
        Assert.Contains("initializer 'big'", e.Message);
        Assert.Contains("model.onnx.data", e.Message);
    }

    [Fact]
    public void MissingDataFileIsAClearError()
    {
        var (path, _) = SaveExternal();
        File.Delete(path + ".data");
        var e = Assert.Throws<ModelException>(() => OnnxLoader.Load(path));
        Assert.Contains("initializer 'big'", e.Message);
        Assert.Contains("'model.onnx.data' not found", e.Message);
    }

    [Theory]
    [InlineData("../secret.bin", "must not contain '..'")]
    [InlineData("sub/../../secret.bin", "must not contain '..'")]
    [InlineData("/etc/passwd", "must be a relative path")]
    [InlineData("C:\\Windows\\win.ini", "must be a relative path")]
    public void LocationsOutsideTheModelDirectoryAreRejected(string location, string message)
    {
        var (_, proto) = SaveExternal();
        SetLocation(Big(proto), location);
        Assert.Contains(message, FailsAfter(proto).Message);
    }

    [Fact]
    public void SymlinkPointingOutsideIsRejected()
    {
        string outside = Directory.CreateTempSubdirectory("prova-outside-").FullName;
        try
        {
            var (path, proto) = SaveExternal();
            string target = Path.Combine(outside, "weights.bin");
            File.Copy(path + ".data", target);
            File.CreateSymbolicLink(Path.Combine(_dir, "link.data"), target);
            SetLocation(Big(proto), "link.data");
            SetLocation(proto.Graph.Initializer.Single(t => t.Name == "mask"), "link.data");
            Assert.Contains("link to a file outside the model directory", FailsAfter(proto).Message);

            // A link that stays inside the directory is fine.
            File.CreateSymbolicLink(Path.Combine(_dir, "inside.data"), path + ".data");
            SetLocation(Big(proto), "inside.data");
            SetLocation(proto.Graph.Initializer.Single(t => t.Name == "mask"), "inside.data");
            File.WriteAllBytes(path, proto.ToByteArray());
            ModelAssert.Equal(Model(), OnnxLoader.Load(path));
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Fact]
    public void OffsetAndLengthAreBoundsChecked()
    {
        var (_, proto) = SaveExternal();
        var offset = Big(proto).ExternalData.Single(e => e.Key == "offset");
        offset.Value = "100";
        Assert.Contains("which is only 16448 bytes long", FailsAfter(proto).Message);
        offset.Value = "9223372036854775807";
        Assert.Contains("which is only 16448 bytes long", FailsAfter(proto).Message);
        offset.Value = "-1";
        Assert.Contains("invalid external data offset '-1'", FailsAfter(proto).Message);
        offset.Value = "0";
        Big(proto).ExternalData.Single(e => e.Key == "length").Value = "12";
        Assert.Contains("external data length is 12", FailsAfter(proto).Message);
    }

    [Fact]
    public void ExternalDataTotalIsLimited()
    {
        var (path, _) = SaveExternal();
        var e = Assert.Throws<ModelException>(() => OnnxLoader.Load(path, new LoadOptions { MaxExternalDataBytes = 1000 }));
        Assert.Contains("limit of 1000 bytes", e.Message);
    }

    [Fact]
    public void ExternalTensorFilesParseRelativeToTheirDirectory()
    {
        File.WriteAllBytes(Path.Combine(_dir, "t.bin"), [1, 0, 0, 0, 2, 0, 0, 0]);
        var proto = new TensorProto { Name = "t", DataType = (int)DataType.Int32, DataLocation = TensorProto.Types.DataLocation.External };
        proto.Dims.Add(2);
        proto.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "t.bin" });
        var (_, tensor) = OnnxTensors.ParseTensorProto(proto.ToByteArray(), _dir);
        Assert.Equal([1, 2], tensor.Span<int>().ToArray());
    }
}
