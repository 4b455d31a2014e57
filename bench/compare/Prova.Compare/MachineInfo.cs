using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Prova.Compare;

/// <summary>What the numbers were measured on: CPU model and cores, OS, .NET and SIMD support.</summary>
public sealed record MachineInfo(string CpuModel, int LogicalCpus, string Os, string DotNet, string Simd)
{
    public static MachineInfo Detect()
    {
        var simd = new List<string>();
        if (Vector512.IsHardwareAccelerated)
        {
            simd.Add("Vector512");
        }
        if (Avx2.IsSupported)
        {
            simd.Add("AVX2");
        }
        if (Fma.IsSupported)
        {
            simd.Add("FMA");
        }
        if (Avx512F.IsSupported)
        {
            simd.Add("AVX-512F");
        }
        if (simd.Count == 0)
        {
            simd.Add(Vector128.IsHardwareAccelerated ? "Vector128" : "none");
        }
        return new MachineInfo(ReadCpuModel(), Environment.ProcessorCount, RuntimeInformation.OSDescription,
            RuntimeInformation.FrameworkDescription, string.Join(", ", simd));
    }

    private static string ReadCpuModel()
    {
        try
        {
            var psi = new ProcessStartInfo("lscpu") { RedirectStandardOutput = true, UseShellExecute = false };
            psi.Environment["LC_ALL"] = "C";
            using var p = Process.Start(psi);
            if (p is not null)
            {
                var text = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                foreach (var line in text.Split('\n'))
                {
                    if (line.StartsWith("Model name:", StringComparison.Ordinal))
                    {
                        return line["Model name:".Length..].Trim();
                    }
                }
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No lscpu: fall back to /proc/cpuinfo.
        }
        if (File.Exists("/proc/cpuinfo"))
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal))
                {
                    return line[(line.IndexOf(':') + 1)..].Trim();
                }
            }
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
