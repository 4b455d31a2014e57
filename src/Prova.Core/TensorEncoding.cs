using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Prova.Core;

/// <summary>
/// The canonical binary encoding of tensors, which is what gets hashed and signed.
/// Specified in docs/formats.md:
///   tensor  = u8 dtype (ONNX TensorProto.DataType) · u32 rank · rank × u64 dim · data (little-endian)
///   tensors = u32 count · for each, sorted by name (ordinal): u32 name-length · UTF-8 name · tensor
/// Booleans are one byte, 0 or 1.
/// </summary>
public static class TensorEncoding
{
    public static byte[] Encode(Tensor tensor)
    {
        using var stream = new MemoryStream();
        Write(stream, tensor);
        return stream.ToArray();
    }

    public static void Write(Stream stream, Tensor tensor)
    {
        Span<byte> header = stackalloc byte[8];
        stream.WriteByte((byte)tensor.Type);
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)tensor.Rank);
        stream.Write(header[..4]);
        foreach (int d in tensor.Shape)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)d);
            stream.Write(header);
        }
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Prova's canonical encoding needs a little-endian machine");
        }
        stream.Write(tensor.Bytes());
    }

    public static void Write(Stream stream, IReadOnlyDictionary<string, Tensor> tensors)
    {
        Span<byte> u32 = stackalloc byte[4];
        var names = tensors.Keys.ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        BinaryPrimitives.WriteUInt32LittleEndian(u32, (uint)names.Length);
        stream.Write(u32);
        foreach (var name in names)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(name);
            BinaryPrimitives.WriteUInt32LittleEndian(u32, (uint)utf8.Length);
            stream.Write(u32);
            stream.Write(utf8);
            Write(stream, tensors[name]);
        }
    }

    /// <summary>SHA-256 of the canonical encoding of a set of named tensors, as lower-case hex.</summary>
    public static string Hash(IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var hasher = new HashingStream();
        Write(hasher, tensors);
        return Convert.ToHexStringLower(hasher.Finish());
    }

    /// <summary>SHA-256 of the canonical encoding of one tensor, as lower-case hex.</summary>
    public static string Hash(Tensor tensor)
    {
        using var hasher = new HashingStream();
        Write(hasher, tensor);
        return Convert.ToHexStringLower(hasher.Finish());
    }

    /// <summary>A write-only stream that feeds SHA-256 without buffering the whole encoding.</summary>
    private sealed class HashingStream : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public byte[] Finish() => _hash.GetHashAndReset();

        public override void Write(ReadOnlySpan<byte> buffer) => _hash.AppendData(buffer);

        public override void Write(byte[] buffer, int offset, int count) => _hash.AppendData(buffer, offset, count);

        public override void WriteByte(byte value) => _hash.AppendData([value]);

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() { }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
