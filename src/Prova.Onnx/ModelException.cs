using Prova.Core;

namespace Prova.Onnx;

/// <summary>
/// The one exception for a model Prova cannot load or run: malformed bytes, an invalid graph,
/// an unsupported op or opset, bad attributes, inconsistent shapes. The message names the node
/// and op where there is one.
/// </summary>
public sealed class ModelException : ProvaException
{
    public ModelException(string message, bool unsupported = false) : base(message)
    {
        IsUnsupported = unsupported;
    }

    public ModelException(string message, Exception inner) : base(message, inner) { }

    /// <summary>
    /// True when the model is valid ONNX but uses something Prova does not implement (an op, an
    /// opset, an element type or attribute value); false when the model itself is wrong.
    /// </summary>
    public bool IsUnsupported { get; }

    /// <summary>An error about a specific node: "node 'conv1' (Conv): ...".</summary>
    public static ModelException ForNode(OnnxNode node, string problem)
        => new($"node '{node.DisplayName}' ({node.OpType}): {problem}");

    /// <summary>A valid node that Prova cannot run: "node 'x' (Op): not supported: ...".</summary>
    public static ModelException Unsupported(OnnxNode node, string what)
        => new($"node '{node.DisplayName}' ({node.OpType}): not supported: {what}", unsupported: true);
}
