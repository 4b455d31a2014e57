using System.Security.Cryptography;
using System.Text;

namespace Prova.Core.Content;

/// <summary>
/// A model as a local folder (docs/formats.md, "Model folders"): a bundle's files under their paths, or a
/// single-file model as <c>model.onnx</c>, plus a marker file <c>.prova-cid</c> holding the CID. The
/// folder is built in a temporary sibling and renamed into place only once every file is written (by a
/// writer that verifies each chunk) and fsynced, so a folder with a marker is always whole; an
/// interrupted write leaves only the temporary sibling, removed on the next attempt. Both the node
/// (its store) and the SDK (its cache, <c>prova model pull -o DIR</c>) write folders through here.
/// </summary>
public static class ModelFolder
{
    /// <summary>The marker file: the CID's text, written last.</summary>
    public const string MarkerName = ".prova-cid";

    /// <summary>The file name a single-file model gets in its folder.</summary>
    public const string SingleModelName = "model.onnx";

    /// <summary>The files of single-file content as a folder: just <see cref="SingleModelName"/>.</summary>
    public static IReadOnlyList<BundleFile> SingleFile(ModelManifest manifest) => [new BundleFile(SingleModelName, manifest.Size, manifest.Cid)];

    /// <summary>
    /// True when <paramref name="directory"/> is a complete folder of <paramref name="cid"/>: its marker
    /// names the CID and every file of <paramref name="files"/> is there with its size.
    /// </summary>
    public static bool IsComplete(string directory, Cid cid, IReadOnlyList<BundleFile> files)
    {
        try
        {
            string marker = Path.Combine(directory, MarkerName);
            if (!File.Exists(marker) || File.ReadAllText(marker, Encoding.ASCII).Trim() != cid.ToString())
            {
                return false;
            }
            foreach (var f in files)
            {
                var info = new FileInfo(Path.Combine(directory, f.Path));
                if (!info.Exists || info.Length != f.Size)
                {
                    return false;
                }
            }
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// True when <paramref name="directory"/> has the marker of <paramref name="cid"/>. Folders are renamed into place only
    /// when whole, so the marker is enough unless someone edited the folder afterwards (the overload with the file list also
    /// checks every file's size).
    /// </summary>
    public static bool IsComplete(string directory, Cid cid)
    {
        try
        {
            string marker = Path.Combine(directory, MarkerName);
            return File.Exists(marker) && File.ReadAllText(marker, Encoding.ASCII).Trim() == cid.ToString();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// True when <paramref name="directory"/> does not exist or is empty (what <c>pull -o DIR</c> may write without <c>--force</c>).
    /// </summary>
    public static bool IsEmptyOrMissing(string directory) =>
        !Directory.Exists(directory) || !Directory.EnumerateFileSystemEntries(directory).Any();

    /// <summary>
    /// Writes the folder of <paramref name="cid"/> at <paramref name="directory"/>: for each file,
    /// <paramref name="writeFile"/> is given the file and the path to create (its directory exists) and must
    /// write exactly the verified content there. An existing <paramref name="directory"/> is replaced only
    /// when it is empty, already a folder of some CID (has a marker), or <paramref name="replace"/> is true;
    /// otherwise <see cref="IOException"/>. Returns the full path of the folder.
    /// </summary>
    public static async Task<string> WriteAsync(string directory, Cid cid, IReadOnlyList<BundleFile> files,
        Func<BundleFile, string, CancellationToken, Task> writeFile, bool replace, CancellationToken cancellationToken = default)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        string parent = Path.GetDirectoryName(full) ?? throw new IOException($"'{directory}' has no parent directory");
        Directory.CreateDirectory(parent);
        string name = Path.GetFileName(full);
        string temp = Path.Combine(parent, $".{name}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.partial");
        Directory.CreateDirectory(temp);
        try
        {
            foreach (var f in files)
            {
                if (BundleManifest.CheckPath(f.Path) is { } problem)
                {
                    throw new ContentFormatException($"'{f.Path}' cannot be written: the path {problem}");
                }
                string path = Path.Combine(temp, f.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await writeFile(f, path, cancellationToken);
                var info = new FileInfo(path);
                if (!info.Exists || info.Length != f.Size)
                {
                    throw new IOException($"'{f.Path}' was written with {(info.Exists ? info.Length : 0)} bytes, expected {f.Size}");
                }
            }
            WriteSynced(Path.Combine(temp, MarkerName), Encoding.ASCII.GetBytes(cid + "\n"));
            string? old = null;
            if (Directory.Exists(full))
            {
                if (!replace && !IsEmptyOrMissing(full) && !File.Exists(Path.Combine(full, MarkerName)))
                {
                    throw new IOException($"'{full}' is not empty; refusing to overwrite it");
                }
                old = Path.Combine(parent, $".{name}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.old");
                Directory.Move(full, old);
            }
            else if (File.Exists(full))
            {
                throw new IOException($"'{full}' is a file, not a directory");
            }
            Directory.Move(temp, full);
            if (old is not null)
            {
                TryDeleteDirectory(old);
            }
            return full;
        }
        catch
        {
            TryDeleteDirectory(temp);
            throw;
        }
    }

    /// <summary>Removes temporary siblings left by interrupted writes of folders in <paramref name="parent"/>.</summary>
    public static void CleanPartials(string parent)
    {
        if (!Directory.Exists(parent))
        {
            return;
        }
        foreach (var dir in Directory.EnumerateDirectories(parent, ".*.partial").Concat(Directory.EnumerateDirectories(parent, ".*.old")))
        {
            TryDeleteDirectory(dir);
        }
    }

    private static void WriteSynced(string path, ReadOnlySpan<byte> bytes)
    {
        using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        RandomAccess.Write(handle, bytes, 0);
        RandomAccess.FlushToDisk(handle);
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
