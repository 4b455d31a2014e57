using System.Buffers.Binary;
using System.IO.Compression;

namespace Prova.Trainer;

/// <summary>The Fashion-MNIST images and labels of one split: images as floats in [0, 1].</summary>
internal sealed record DataSet(float[] Images, byte[] Labels, int Count)
{
    public const int Pixels = 28 * 28;

    public ReadOnlySpan<float> Image(int i) => Images.AsSpan(i * Pixels, Pixels);

    /// <summary>Loads <c>{prefix}-images-idx3-ubyte.gz</c> and <c>{prefix}-labels-idx1-ubyte.gz</c> from <paramref name="dir"/>.</summary>
    public static DataSet Load(string dir, string prefix)
    {
        byte[] images = Idx.Read(Path.Combine(dir, prefix + "-images-idx3-ubyte.gz"), 3, out int[] imageDims);
        byte[] labels = Idx.Read(Path.Combine(dir, prefix + "-labels-idx1-ubyte.gz"), 1, out int[] labelDims);
        if (imageDims[1] != 28 || imageDims[2] != 28 || imageDims[0] != labelDims[0])
        {
            throw new InvalidDataException($"{prefix}: expected N×28×28 images and N labels, got {string.Join("×", imageDims)} and {labelDims[0]}");
        }
        var pixels = new float[images.Length];
        for (int i = 0; i < images.Length; i++)
        {
            pixels[i] = images[i] / 255f;
        }
        return new DataSet(pixels, labels, labelDims[0]);
    }
}

/// <summary>
/// Reader of the IDX format of MNIST-style datasets (http://yann.lecun.com/exdb/mnist/): a magic number
/// 0x0000 08 RR (unsigned bytes, rank RR), RR big-endian int32 dims, then the bytes.
/// </summary>
internal static class Idx
{
    public static byte[] Read(string path, int rank, out int[] dims)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        Span<byte> header = stackalloc byte[4 + 4 * rank];
        gzip.ReadExactly(header);
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != (0x0800 | rank))
        {
            throw new InvalidDataException($"{path}: not an unsigned-byte IDX file of rank {rank} (magic 0x{magic:x8})");
        }
        dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(header[(4 + 4 * i)..]);
            count *= dims[i];
        }
        if (count is < 0 or > 1L << 30)
        {
            throw new InvalidDataException($"{path}: implausible size {count}");
        }
        var data = new byte[count];
        gzip.ReadExactly(data);
        return data;
    }
}
