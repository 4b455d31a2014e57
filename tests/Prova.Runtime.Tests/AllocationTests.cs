using Prova.Core;
using Prova.Onnx;
using Prova.Runtime.Tests.TestModels;
using Xunit.Abstractions;

namespace Prova.Runtime.Tests;

/// <summary>A warm run allocates nothing inside the engine: only the output tensors it returns.</summary>
public sealed class AllocationTests(ITestOutputHelper output)
{
    public static TheoryData<string> Models => ["mlp", "cnn", "transformer"];

    [Theory]
    [MemberData(nameof(Models))]
    public void WarmRunAllocatesOnlyItsOutputs(string name)
    {
        var model = name switch
        {
            "mlp" => RandomModels.Mlp(seed: 11, batch: 1),
            "cnn" => RandomModels.Cnn(seed: 12, batch: 1),
            _ => RandomModels.TransformerBlock(seed: 13, batch: 1),
        };
        var inputs = RandomModels.Inputs(model, seed: 14);
        // One thread: allocation is measured on the calling thread, which then runs every kernel.
        using var session = new InferenceSession(model, new SessionOptions { Threads = 1 });
        for (int i = 0; i < 3; i++)
        {
            session.Run(inputs);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        var outputs = session.Run(inputs);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        long outputBytes = 0;
        foreach (var t in outputs.Values)
        {
            outputBytes += t.Bytes().Length;
        }
        output.WriteLine($"{name}: {allocated} bytes allocated by a warm run, outputs {outputBytes} bytes, arena {session.ArenaBytes} bytes");
        // Output tensors (data, shape, object headers) and the result dictionary: a fixed, small overhead.
        Assert.True(allocated <= outputBytes + 1024, $"a warm run allocated {allocated} bytes for {outputBytes} bytes of outputs");
    }
}
