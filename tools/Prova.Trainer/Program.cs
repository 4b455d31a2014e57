using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Prova.Core;
using Prova.Onnx;

namespace Prova.Trainer;

/// <summary>
/// Trains the Fashion-MNIST demo models and writes request files of dataset images.
/// <code>
/// dotnet run --project tools/Prova.Trainer -c Release -- train mlp -o models/fashion-mlp.onnx
/// dotnet run --project tools/Prova.Trainer -c Release -- train cnn -o models/fashion-cnn.onnx
/// dotnet run --project tools/Prova.Trainer -c Release -- inputs --split test --start 0 --count 8 -o models/examples
/// dotnet run --project tools/Prova.Trainer -c Release -- lm --corpus "$(scripts/fetch-corpus.sh)" -o models/lm
/// </code>
/// </summary>
public static class Program
{
    private const string DefaultData = "/usr/share/datasets/fashion-mnist";

    public static int Main(string[] args)
    {
        try
        {
            return args.Length > 0 && args[0] == "train" ? Train(new Args(args[1..]))
                : args.Length > 0 && args[0] == "inputs" ? Inputs(new Args(args[1..]))
                : args.Length > 0 && args[0] == "lm" ? Lm(new Args(args[1..]))
                : args.Length > 0 && args[0] == "lm-random" ? LmRandom(new Args(args[1..]))
                : Usage();
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or InvalidDataException or Prova.Lm.LmException)
        {
            Console.Error.WriteLine("error: " + ex.Message);
            return 2;
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine("""
            usage: Prova.Trainer train <mlp|cnn> -o <model.onnx> [--epochs N] [--seed S] [--lr X] [--data DIR]
                   Prova.Trainer inputs --split <train|test> --start I --count N [--batch B] -o <dir> [--data DIR]
            """ + "\n" + global::Prova.Trainer.Lm.LmCommand.Usage);
        return 2;
    }

    private static int Lm(Args a) => global::Prova.Trainer.Lm.LmCommand.Train(a.Get, a.Int, a.Float);

    private static int LmRandom(Args a) => global::Prova.Trainer.Lm.LmCommand.Random(a.Get, a.Int);

    private static int Train(Args a)
    {
        string kind = a.Positional ?? throw new ArgumentException("train: which model? mlp or cnn");
        Network net = kind switch
        {
            "mlp" => new Mlp(),
            "cnn" => new Cnn(),
            _ => throw new ArgumentException($"unknown model '{kind}' (mlp or cnn)"),
        };
        string output = a.Get("-o") ?? throw new ArgumentException("train: -o <model.onnx> is required");
        int epochs = a.Int("--epochs", kind == "mlp" ? 10 : 8);
        int seed = a.Int("--seed", 1);
        float lr = a.Float("--lr", 1e-3f);
        string data = a.Get("--data") ?? DefaultData;

        var train = DataSet.Load(data, "train");
        var test = DataSet.Load(data, "t10k");
        var trainer = new SgdTrainer(net, seed);
        Console.WriteLine($"{net.Description}: {net.Params.Length} parameters, {train.Count} training images, {epochs} epochs, Adam lr {lr}, batch {SgdTrainer.Batch}, seed {seed}");
        var clock = Stopwatch.StartNew();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            // Step decay for the last third of the epochs.
            float rate = epoch >= epochs * 2 / 3 ? lr * 0.2f : lr;
            float loss = trainer.Epoch(train, rate);
            double accuracy = trainer.Accuracy(test);
            Console.WriteLine($"epoch {epoch + 1}: loss {loss:F4}, test accuracy {accuracy:P2} ({clock.Elapsed.TotalSeconds:F0} s)");
        }
        var model = net.Export(new Dictionary<string, string>
        {
            ["dataset"] = "Fashion-MNIST (Debian dataset-fashion-mnist)",
            ["preprocessing"] = "pixel / 255, shape [N,1,28,28]",
            ["classes"] = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot",
            ["trainer"] = $"tools/Prova.Trainer train {kind} --epochs {epochs} --seed {seed} --lr {lr.ToString(CultureInfo.InvariantCulture)}",
        });
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        OnnxWriter.Save(model, output);
        Console.WriteLine($"wrote {output} ({new FileInfo(output).Length / 1024} KB)");
        return 0;
    }

    /// <summary>Writes request files {"inputs": {"image": [B,1,28,28]}, "labels": [...]} of consecutive dataset images.</summary>
    private static int Inputs(Args a)
    {
        string split = a.Get("--split") ?? "test";
        if (split is not ("train" or "test"))
        {
            throw new ArgumentException("--split must be train or test");
        }
        int start = a.Int("--start", 0);
        int count = a.Int("--count", 8);
        int batch = a.Int("--batch", 1);
        string dir = a.Get("-o") ?? throw new ArgumentException("inputs: -o <dir> is required");
        var set = DataSet.Load(a.Get("--data") ?? DefaultData, split == "test" ? "t10k" : "train");
        if (start < 0 || count < 1 || batch < 1 || start + count > set.Count)
        {
            throw new ArgumentException($"--start/--count/--batch out of range (the {split} split has {set.Count} images)");
        }
        Directory.CreateDirectory(dir);
        for (int first = start; first < start + count; first += batch)
        {
            int n = Math.Min(batch, start + count - first);
            var image = Tensor.Create([n, 1, 28, 28], set.Images[(first * DataSet.Pixels)..((first + n) * DataSet.Pixels)]);
            string path = Path.Combine(dir, $"fashion-{split}-{first:D5}.json");
            using (var stream = File.Create(path))
            using (var writer = new Utf8JsonWriter(stream))
            {
                writer.WriteStartObject();
                writer.WritePropertyName("inputs");
                TensorJson.WriteTensorMap(writer, new Dictionary<string, Tensor> { ["image"] = image });
                writer.WriteStartArray("labels");
                for (int i = first; i < first + n; i++)
                {
                    writer.WriteNumberValue(set.Labels[i]);
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            Console.WriteLine($"wrote {path} ({n} images)");
        }
        return 0;
    }

    private sealed class Args
    {
        private readonly Dictionary<string, string> _named = new(StringComparer.Ordinal);

        public Args(string[] args)
        {
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i].StartsWith('-'))
                {
                    if (i + 1 >= args.Length)
                    {
                        throw new ArgumentException($"{args[i]} needs a value");
                    }
                    _named[args[i]] = args[++i];
                }
                else
                {
                    Positional = Positional is null ? args[i] : throw new ArgumentException($"unexpected argument '{args[i]}'");
                }
            }
        }

        public string? Positional { get; }

        public string? Get(string name) => _named.GetValueOrDefault(name);

        public int Int(string name, int fallback) => Get(name) is { } v
            ? int.TryParse(v, CultureInfo.InvariantCulture, out int n) ? n : throw new ArgumentException($"{name}: '{v}' is not an integer")
            : fallback;

        public float Float(string name, float fallback) => Get(name) is { } v
            ? float.TryParse(v, CultureInfo.InvariantCulture, out float x) ? x : throw new ArgumentException($"{name}: '{v}' is not a number")
            : fallback;
    }
}
