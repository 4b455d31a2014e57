namespace Prova.Runtime.Tests.Shape;

/// <summary>The official ONNX backend node tests for the data-movement ops.</summary>
public sealed class ShapeBackendTests
{
    public static TheoryData<string> Cases => BackendOracle.Cases(
        [
            "test_reshape", "test_flatten", "test_transpose", "test_squeeze", "test_unsqueeze", "test_concat",
            "test_split", "test_slice", "test_gather_", "test_gather_elements", "test_shape", "test_size", "test_expand",
            "test_identity", "test_constant", "test_constantofshape", "test_range", "test_edge_pad",
            "test_reflect_pad", "test_wrap_pad", "test_tile", "test_dropout",
        ],
        [
            "test_identity_opt", "test_identity_sequence", // optional and sequence types
        ]);

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackendCasePasses(string name) => BackendOracle.Run(name);
}
