using Prova.Runtime.Tests.Shape;

namespace Prova.Runtime.Tests.Reduce;

/// <summary>The official ONNX backend node tests for reductions, ArgMax/ArgMin and LayerNormalization.</summary>
public sealed class ReduceBackendTests
{
    public static TheoryData<string> Cases => BackendOracle.Cases(
        [
            "test_reduce_sum", "test_reduce_mean", "test_reduce_max", "test_reduce_min", "test_reduce_prod",
            "test_reduce_l1", "test_reduce_l2", "test_reduce_sum_square", "test_argmax", "test_argmin",
            "test_layer_normalization",
        ],
        []);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackendCasePasses(string name) => BackendOracle.Run(name);
}
