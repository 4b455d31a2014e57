using System.Runtime.InteropServices;

namespace Prova.Core.IO;

/// <summary>
/// fsync of a directory, so that a rename into it survives a power loss. .NET has no API for this;
/// on Linux and macOS it is open(O_RDONLY) + fsync. Best effort: a failure here does not undo the
/// (already complete) write.
/// </summary>
public static partial class UnixFile
{
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
