using System.Globalization;

namespace Prova.Compare;

/// <summary>Command-line options of the comparison.</summary>
public sealed class Options
{
    public const string Usage = """
        Prova.Compare — Prova vs ONNX Runtime (CPU) on the same models and inputs.

          --quick                  smoke run: few iterations, batch 1, threads 1 (unless given)
          --models a,b,...         mlp-small, mlp-large, lenet5, resnet8, transformer (default: all)
          --batches 1,32           batch sizes (default 1,32)
          --threads 1,2            thread counts (default 1,2)
          --markdown PATH          write the markdown section here (default artifacts/compare.md)
          --work DIR               models, inputs and outputs go here (default artifacts/compare)
          --ort-dir DIR            the ONNX Runtime runner (default bench/ort)
          --profile                also time every node alone on both engines (per-op breakdown)
          --profile-only           only the per-op breakdown
          --profile-batches 32     batch sizes for the per-op breakdown (default 32)
          --profile-threads 1      threads for the per-op breakdown (default 1)
        """;

    public required IReadOnlyList<BenchModel> Models { get; init; }

    public required int[] Batches { get; init; }

    public required int[] Threads { get; init; }

    public required string Markdown { get; init; }

    public required string WorkDirectory { get; init; }

    public required string OrtDirectory { get; init; }

    public bool Quick { get; init; }

    public bool Profile { get; init; }

    public bool ProfileOnly { get; init; }

    public int[] ProfileBatches { get; init; } = [32];

    public int ProfileThreads { get; init; } = 1;

    public TimeBox TimeBox => Quick ? TimeBox.Quick : TimeBox.Full;

    public static Options Parse(string[] args)
    {
        var root = RepoRoot();
        bool quick = args.Contains("--quick");
        IReadOnlyList<BenchModel> models = BenchModels.All;
        int[]? batches = null, threads = null;
        int[] profileBatches = [32];
        int profileThreads = 1;
        string markdown = Path.Combine(root, "artifacts", "compare.md");
        string work = Path.Combine(root, "artifacts", "compare");
        string ortDir = Path.Combine(root, "bench", "ort");
        bool profile = false, profileOnly = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--quick":
                    break;
                case "--models":
                    models = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(BenchModels.Get).ToList();
                    break;
                case "--batches":
                    batches = Ints(Value(), "--batches");
                    break;
                case "--threads":
                    threads = Ints(Value(), "--threads");
                    break;
                case "--markdown":
                    markdown = Path.GetFullPath(Value());
                    break;
                case "--work":
                    work = Path.GetFullPath(Value());
                    break;
                case "--ort-dir":
                    ortDir = Path.GetFullPath(Value());
                    break;
                case "--profile":
                    profile = true;
                    break;
                case "--profile-only":
                    profile = profileOnly = true;
                    break;
                case "--profile-batches":
                    profileBatches = Ints(Value(), "--profile-batches");
                    break;
                case "--profile-threads":
                    profileThreads = Ints(Value(), "--profile-threads")[0];
                    break;
                default:
                    throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        return new Options
        {
            Models = models,
            Batches = batches ?? (quick ? [1] : [1, 32]),
            Threads = threads ?? (quick ? [1] : [1, 2]),
            Markdown = markdown,
            WorkDirectory = work,
            OrtDirectory = ortDir,
            Quick = quick,
            Profile = profile,
            ProfileOnly = profileOnly,
            ProfileBatches = profileBatches,
            ProfileThreads = profileThreads,
        };
    }

    private static int[] Ints(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out result[i]) || result[i] < 1 || result[i] > 4096)
            {
                throw new ArgumentException($"{option} takes positive integers separated by commas, got '{text}'");
            }
        }
        return result.Length > 0 ? result : throw new ArgumentException($"{option} needs at least one value");
    }

    /// <summary>The directory holding Prova.slnx, searched upwards from the working directory, then from the binary.</summary>
    private static string RepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Prova.slnx")))
                {
                    return dir.FullName;
                }
            }
        }
        return Directory.GetCurrentDirectory();
    }
}

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }
        foreach (var sub in new[] { "models", "inputs", "outputs", "profile" })
        {
            Directory.CreateDirectory(Path.Combine(options.WorkDirectory, sub));
        }
        var machine = MachineInfo.Detect();
        Console.WriteLine($"{machine.CpuModel}, {machine.LogicalCpus} CPUs, {machine.DotNet}, SIMD: {machine.Simd}");

        OrtProcess ort;
        try
        {
            ort = OrtProcess.Start(options.OrtDirectory);
        }
        catch (Exception e) when (e is InvalidOperationException or FileNotFoundException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        using (ort)
        {
            Console.WriteLine($"ONNX Runtime {ort.Version} (onnxruntime-node, node {ort.NodeVersion})");
            var rows = new List<Row>();
            if (!options.ProfileOnly)
            {
                rows = new Comparison(options, ort, Console.Out).Run();
            }
            var profiles = new List<ProfileResult>();
            if (options.Profile)
            {
                var profiler = new OpProfiler(options, ort, Console.Out);
                foreach (var model in options.Models)
                {
                    foreach (int batch in options.ProfileBatches)
                    {
                        Console.WriteLine($"per-op profile: {model.Name} batch {batch} threads {options.ProfileThreads}");
                        profiles.Add(profiler.Run(model, batch, options.ProfileThreads));
                    }
                }
            }
            var markdown = Report.Markdown(rows, machine, options, ort.Version, ort.NodeVersion, profiles);
            Directory.CreateDirectory(Path.GetDirectoryName(options.Markdown)!);
            File.WriteAllText(options.Markdown, markdown);
            Console.WriteLine();
            Console.WriteLine(markdown);
            Console.WriteLine($"written to {options.Markdown}");
            bool allRan = rows.All(r => r.Agreement is { Ok: true });
            return allRan ? 0 : 1;
        }
    }
}
