using Prova.Core;

namespace Prova.Proofs.Inference;

/// <summary>
/// A model input as the model declares it (part of the verifying key, PRVK v3): element type and
/// shape, <see cref="Dims"/> null when the shape is not declared and −1 for a symbolic dimension.
/// The engine refuses inputs that do not fit (InferenceSession); the verifier does the same.
/// </summary>
public sealed record InputDeclaration(string Name, DataType Type, int[]? Dims)
{
    /// <summary>True when a tensor of this type and shape is what the model declares.</summary>
    public bool Accepts(Tensor x)
    {
        if (x.Type != Type)
        {
            return false;
        }
        if (Dims is null)
        {
            return true;
        }
        var shape = x.Shape;
        if (shape.Length != Dims.Length)
        {
            return false;
        }
        for (int d = 0; d < Dims.Length; d++)
        {
            if (Dims[d] >= 0 && Dims[d] != shape[d])
            {
                return false;
            }
        }
        return true;
    }

    public override string ToString() => DataTypes.Name(Type) + (Dims is null ? "" : "[" + string.Join(", ", Array.ConvertAll(Dims, d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]");
}
