using System.Text.Json;
using Prova.Core;

namespace Prova.Cli;

/// <summary>One image for the demo: its request file (if any), the inputs and the true label (if known).</summary>
internal sealed record DemoExample(string Name, string? Path, Dictionary<string, Tensor> Inputs, int? Label);

/// <summary>
/// The demo's model and examples: the committed trained Fashion-MNIST CNN and held-out test images
/// from <c>models/</c> in the repository, found by walking up to the directory holding Prova.slnx.
/// </summary>
internal sealed record DemoAssets(string ModelPath, string? Int8Path, IReadOnlyList<DemoExample> Examples)
{
    public static readonly string[] FashionClasses =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>The repository root (the directory with Prova.slnx) above the program or the current directory.</summary>
    public static string? FindRepository()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "Prova.slnx")))
                {
                    return dir.FullName;
                }
            }
        }
        return null;
    }

    /// <summary>The trained CNN and up to <paramref name="count"/> labelled examples, or null when not found.</summary>
    public static DemoAssets? FindTrained(int count)
    {
        if (FindRepository() is not { } root)
        {
            return null;
        }
        string models = System.IO.Path.Combine(root, "models");
        string cnn = System.IO.Path.Combine(models, "fashion-cnn.onnx");
        string examplesDir = System.IO.Path.Combine(models, "examples");
        if (!File.Exists(cnn) || !Directory.Exists(examplesDir))
        {
            return null;
        }
        var examples = new List<DemoExample>();
        foreach (string file in Directory.GetFiles(examplesDir, "*.json").Order(StringComparer.Ordinal))
        {
            if (examples.Count == count)
            {
                break;
            }
            try
            {
                var inputs = TensorJson.ReadRequestFile(file);
                examples.Add(new DemoExample(System.IO.Path.GetFileNameWithoutExtension(file), file, inputs, ReadLabel(file)));
            }
            catch (Exception ex) when (ex is ProvaException or IOException or JsonException)
            {
                // A broken example is skipped; the others still tell the story.
            }
        }
        if (examples.Count == 0)
        {
            return null;
        }
        string int8 = System.IO.Path.Combine(models, "fashion-cnn.int8.onnx");
        return new DemoAssets(cnn, File.Exists(int8) ? int8 : null, examples);
    }

    private static int? ReadLabel(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(file));
        return doc.RootElement.TryGetProperty("labels", out var labels) && labels.ValueKind == JsonValueKind.Array
            && labels.GetArrayLength() > 0 && labels[0].TryGetInt32(out int label)
            ? label
            : null;
    }

    public string ClassName(int index) =>
        Examples[0].Label is not null || ModelPath.Contains("fashion", StringComparison.Ordinal)
            ? (index >= 0 && index < FashionClasses.Length ? FashionClasses[index] : $"class {index}")
            : $"class {index}";
}
