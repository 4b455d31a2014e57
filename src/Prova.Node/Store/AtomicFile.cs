using System.Runtime.InteropServices;

namespace Prova.Node.Store;

/// <summary>
/// Crash-safe file writes: write a temporary file, fsync it, rename it over the target, fsync the
/// directory. A kill at any point leaves either no file or the whole file.
/// </summary>
internal static partial class AtomicFile
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
        FsyncDirectory(Path.GetDirectoryName(path)!);
    }

    public static void FsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        int fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            return;
        }
        _ = Fsync(fd);
        _ = Close(fd);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
