namespace Prova.Testing;

/// <summary>Files of the repository (the directory holding Prova.slnx), found by walking up from the test binaries.</summary>
internal static class RepoFiles
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Prova.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"Prova.slnx not found above {AppContext.BaseDirectory}");
    });

    public static string Root => s_root.Value;

    /// <summary>A path under the repository root, e.g. <c>Get("models", "fashion-cnn.onnx")</c>.</summary>
    public static string Get(params string[] parts) => Path.Combine([Root, .. parts]);
}
