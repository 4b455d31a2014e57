using Prova.Core.IO;

namespace Prova.Node.Store;

/// <summary>
/// Crash-safe file writes: write a temporary file, fsync it, rename it over the target, fsync the
/// directory. A kill at any point leaves either no file or the whole file.
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, string tempDirectory, ReadOnlySpan<byte> bytes)
    {
        string temp = Path.Combine(tempDirectory, Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        UnixFile.FsyncDirectory(Path.GetDirectoryName(path)!);
    }
}
